package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Background delivery. Start answers before anything is sent, so that the
// time of its answer cannot tell an address that gets a message from one
// that does not; each message then goes out in a goroutine of its own.
//
// A decoy hands over a stand-in that sends nothing, by the same code up to
// the send: measured in process (internal/bench/starttiming),
// a goroutine made only for real starts, with its timer and contexts, made
// them some microseconds slower to answer, which 100 starts per class
// could tell apart.

const (
	// DefaultDeliveryTimeout bounds a delivery whose sender sets no bound
	// of its own (see TimeoutSender).
	DefaultDeliveryTimeout = 30 * time.Second
	// DefaultMaxDeliveries is how many messages are sent at once.
	DefaultMaxDeliveries = 64
	// waitingPerSlot bounds the deliveries waiting for a sending slot, per
	// slot. Past that a new delivery fails at once: a flood of starts must
	// not pile up goroutines without end.
	waitingPerSlot = 16
	// A delivery begins once the request that asked for it is over (an
	// HTTP request's context ends when its handler returns), or after
	// startAfter for a caller whose context lives on; then after a random
	// pause below jitter. So its work (composing, dialling, TLS) neither
	// slows the answer it follows nor lands at a time an asker can pick,
	// such as during their next request.
	startAfter = 100 * time.Millisecond
	jitter     = 50 * time.Millisecond
)

// TimeoutSender is a Sender that says how long one of its deliveries may
// take at most, retries included. A delivery gets that long from the
// moment Start hands it over, its waits included.
type TimeoutSender interface {
	Sender
	DeliveryTimeout() time.Duration
}

var errTooManyDeliveries = errors.New("too many deliveries waiting; this one was not tried")

// deliveries counts the background deliveries of one Engine and bounds
// how many send at once. Its zero value is ready once init has run.
type deliveries struct {
	once  sync.Once
	slots chan struct{} // a delivery holds one while it sends
	limit int           // real deliveries that may be handed over and not ended

	mu      sync.Mutex
	pending int           // handed over and not ended, decoys' stand-ins too
	real    int           // of which real
	idle    chan struct{} // closed when pending falls to 0
}

func (d *deliveries) init(maxSending int) {
	d.once.Do(func() {
		if maxSending <= 0 {
			maxSending = DefaultMaxDeliveries
		}
		d.slots = make(chan struct{}, maxSending)
		d.limit = maxSending * (1 + waitingPerSlot)
	})
}

// add counts one more delivery, and says whether a real one may be tried.
// Decoys' stand-ins never count against the bound.
func (d *deliveries) add(real bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending == 0 {
		d.idle = make(chan struct{})
	}
	d.pending++
	if real {
		d.real++
	}
	return d.real <= d.limit
}

func (d *deliveries) done(real bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending--
	if real {
		d.real--
	}
	if d.pending == 0 {
		close(d.idle)
	}
}

// send waits for a slot, then sends, both within ctx.
func (d *deliveries) send(ctx context.Context, sender Sender, m Message) (err error) {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("no sending slot came free in time: %w", ctx.Err())
	}
	defer func() { <-d.slots }()
	defer func() {
		// A sender's bug must not take the server down with it, now that
		// no request's recovery stands around the call.
		if r := recover(); r != nil {
			err = fmt.Errorf("the sender panicked: %v", r)
		}
	}()
	return sender.Send(ctx, m)
}

// deliver hands m over to a background delivery if real, or a stand-in
// that sends nothing if not; both take the same steps until then. The
// delivery's context keeps the values of ctx but not its cancellation,
// and ends after the sender's timeout. If it fails, the attempt is marked
// failed, so that nothing signs in with it and the next check says why,
// and the address's limit slots in lim are given back, so that the person
// can ask again at once.
func (e *Engine) deliver(ctx context.Context, sender Sender, m Message, attemptID string, lim *limiter, real bool, caller Caller) {
	d := &e.deliveries
	timeout := DefaultDeliveryTimeout
	if ts, ok := sender.(TimeoutSender); ok && ts.DeliveryTimeout() > 0 {
		timeout = ts.DeliveryTimeout()
	}
	asked := ctx.Done()
	ctx = context.WithoutCancel(ctx)
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	try := d.add(real)
	go func() {
		defer d.done(real)
		defer cancel()
		if asked != nil {
			t := time.NewTimer(startAfter)
			select {
			case <-asked:
			case <-t.C:
			}
			t.Stop()
		}
		if !e.noJitter {
			time.Sleep(rand.N(jitter))
		}
		if !real {
			return
		}
		began := e.now()
		err := errTooManyDeliveries
		if try {
			err = d.send(sendCtx, sender, m)
		}
		ev := Event{Kind: EventCodeSent, Caller: caller, Channel: m.Channel, Sender: senderName(sender),
			Duration: e.now().Sub(began)}
		if err != nil {
			// Not sendCtx: what a failure leaves must be cleared even when
			// the delivery ran out of time. The store bounds each call.
			if ferr := e.store.FailAttempt(ctx, attemptID); ferr != nil {
				// The attempt then ends with its TTL, guessable like any.
				err = fmt.Errorf("%v; marking the attempt failed: %v", err, ferr)
			}
			lim.releaseAll(ctx)
			ev.Kind, ev.Err = EventDeliveryFailed, fmt.Errorf("%w: %v", ErrDeliveryFailed, err)
		}
		e.emit(ev)
	}()
}

// Wait blocks until every delivery handed over so far has ended (decoys'
// stand-ins too, which end within startAfter + jitter).
func (e *Engine) Wait() {
	d := &e.deliveries
	d.mu.Lock()
	pending, idle := d.pending, d.idle
	d.mu.Unlock()
	if pending > 0 {
		<-idle
	}
}

// InFlight returns the number of real deliveries handed over and not
// ended: those that still need the store.
func (e *Engine) InFlight() int {
	d := &e.deliveries
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.real
}
