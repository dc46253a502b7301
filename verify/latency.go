package verify

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// latency tracks how long real deliveries take, so that a start that
// delivers nothing (an address that may not sign in) can take as long:
// otherwise the answer time would tell the two apart.
type latency struct {
	avg atomic.Int64 // nanoseconds, exponentially weighted
}

// observe folds in one delivery's duration with weight 1/8.
func (l *latency) observe(d time.Duration) {
	for {
		old := l.avg.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if l.avg.CompareAndSwap(old, next) {
			return
		}
	}
}

// latencyPrior is what a delivery is assumed to take until one has been
// timed: of the order of an SMTP or SMS API round trip. Without it, the
// first decoys after a start would answer at once and stand out.
const latencyPrior = 300 * time.Millisecond

// imitate waits about as long as a delivery takes: the average (the prior
// until a delivery has been timed), spread by ±25 % the way real
// deliveries spread.
func (l *latency) imitate(ctx context.Context, sleep func(context.Context, time.Duration)) {
	avg := l.avg.Load()
	if avg <= 0 {
		avg = int64(latencyPrior)
	}
	var b [8]byte
	rand.Read(b[:])
	spread := int64(binary.LittleEndian.Uint64(b[:])%1001) - 500 // -500..500 per mille
	sleep(ctx, time.Duration(avg+avg*spread/2000))
}
