package caddymodule

import "time"

// AdvanceClock lets time pass for the sign-in logic of every handler.
func AdvanceClock(d time.Duration) { clockOffset.Add(int64(d)) }

// ResetClock puts the clock back to the real time.
func ResetClock() { clockOffset.Store(0) }

// SetBodyReadTimeout changes the bound on reading a body, until the test ends.
func SetBodyReadTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := bodyReadTimeout.Swap(int64(d))
	t.Cleanup(func() { bodyReadTimeout.Store(old) })
}
