package caddymodule

import "time"

// AdvanceClock lets time pass for the sign-in logic of every handler.
func AdvanceClock(d time.Duration) { clockOffset.Add(int64(d)) }

// ResetClock puts the clock back to the real time.
func ResetClock() { clockOffset.Store(0) }
