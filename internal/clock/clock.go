// Package clock is the time passgate's sign-in logic reads: the real time,
// plus an offset that only tests move, to let time pass (cooldowns,
// timeouts) without waiting.
package clock

import (
	"sync/atomic"
	"time"
)

var offset atomic.Int64

// Now is the current time, as passgate's logic sees it.
func Now() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

// Advance lets d pass for every reader of Now. Tests only.
func Advance(d time.Duration) { offset.Add(int64(d)) }

// Reset puts the clock back to the real time. Tests only.
func Reset() { offset.Store(0) }
