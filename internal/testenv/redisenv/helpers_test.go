package redisenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// passgate's client settings: every operation bounded by one timeout (1 s
// here, 2 s in passgate), no command ever sent twice by the client.
const opTimeout = time.Second

func failoverClient(e *SentinelEnv) *redis.Client {
	o := e.FailoverOptions()
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = opTimeout, opTimeout, opTimeout, opTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.DisableIdentity = true
	return redis.NewFailoverClient(o)
}

func clusterClient(e *ClusterEnv) *redis.ClusterClient {
	return redis.NewClusterClient(clusterOptions(e))
}

func clusterOptions(e *ClusterEnv) *redis.ClusterOptions {
	o := e.ClusterOptions()
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = opTimeout, opTimeout, opTimeout, opTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.DisableIdentity = true
	return o
}

// errClass names the kind of an error a client saw, for the failover
// reports.
func errClass(err error) string {
	var redisErr redis.Error
	var netErr net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &redisErr):
		word, _, _ := strings.Cut(redisErr.Error(), " ")
		return word // READONLY, MOVED, ASK, CLUSTERDOWN, TRYAGAIN, LOADING, ...
	default:
		return "other: " + err.Error()
	}
}

// load runs op again and again (every 5 ms) until stopped, recording when
// it failed and how.
type load struct {
	mu       sync.Mutex
	ok       int
	errs     map[string]int
	examples map[string]string
	firstErr time.Time
	lastErr  time.Time
	// okStreak counts successes since the last error; streakFrom is when
	// the first of them finished.
	okStreak   int
	streakFrom time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

func startLoad(op func(ctx context.Context) error) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{errs: map[string]int{}, examples: map[string]string{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			opCtx, opCancel := context.WithTimeout(ctx, 2*opTimeout)
			err := op(opCtx)
			opCancel()
			if ctx.Err() != nil {
				return
			}
			now := time.Now()
			l.mu.Lock()
			if err == nil {
				l.ok++
				if l.okStreak == 0 {
					l.streakFrom = now
				}
				l.okStreak++
			} else {
				l.okStreak = 0
				c := errClass(err)
				l.errs[c]++
				if _, ok := l.examples[c]; !ok {
					l.examples[c] = err.Error()
				}
				if l.firstErr.IsZero() {
					l.firstErr = now
				}
				l.lastErr = now
			}
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return l
}

func (l *load) stop() {
	l.cancel()
	<-l.done
}

// healthy: the last n operations, at least, succeeded.
func (l *load) healthy(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.okStreak >= n
}

// failedAfter: an operation failed after t.
func (l *load) failedAfter(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr.After(t)
}

// recoveredAt is when the current run of successes began.
func (l *load) recoveredAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.streakFrom
}

// report says how long op failed and how, relative to when the fault was
// made.
func (l *load) report(fault time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.firstErr.IsZero() {
		return fmt.Sprintf("%d ok, no errors", l.ok)
	}
	var kinds []string
	for k, n := range l.errs {
		kinds = append(kinds, fmt.Sprintf("%s ×%d (%q)", k, n, l.examples[k]))
	}
	sort.Strings(kinds)
	again := "still failing"
	if l.okStreak > 0 {
		again = fmt.Sprintf("success again from +%v", l.streakFrom.Sub(fault).Round(time.Millisecond))
	}
	return fmt.Sprintf("%d ok; errors from +%v to +%v after the fault, %s: %s",
		l.ok, l.firstErr.Sub(fault).Round(time.Millisecond), l.lastErr.Sub(fault).Round(time.Millisecond),
		again, strings.Join(kinds, ", "))
}

func (l *load) errorCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.errs {
		n += c
	}
	return n
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(began)
}

// subscriber receives on a PubSub in a loop, calling Receive again after
// an error (which is when go-redis reconnects and resubscribes), and
// records the messages and the errors.
type subscriber struct {
	mu       sync.Mutex
	payloads []string
	gotAt    []time.Time
	subs     int // subscribe confirmations
	errs     []string
	errsAt   []time.Time
	ps       *redis.PubSub
	done     chan struct{}
}

func subscribe(ps *redis.PubSub) *subscriber {
	s := &subscriber{ps: ps, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			msg, err := ps.Receive(context.Background())
			s.mu.Lock()
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
					s.subs++
				}
			case *redis.Message:
				s.payloads = append(s.payloads, m.Payload)
				s.gotAt = append(s.gotAt, time.Now())
			}
			if err != nil {
				if errors.Is(err, redis.ErrClosed) {
					s.mu.Unlock()
					return
				}
				s.errs = append(s.errs, errClass(err))
				s.errsAt = append(s.errsAt, time.Now())
			}
			s.mu.Unlock()
			if err != nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	return s
}

func (s *subscriber) close() {
	_ = s.ps.Close()
	<-s.done
}

func (s *subscriber) subscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs
}

// receivedAt is when payload arrived (zero if it has not).
func (s *subscriber) receivedAt(payload string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.payloads {
		if p == payload {
			return s.gotAt[i]
		}
	}
	return time.Time{}
}

func (s *subscriber) has(payload string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.payloads {
		if p == payload {
			return true
		}
	}
	return false
}

// errors summarises the errors Receive returned, in order, repeats counted,
// with when each run began relative to fault.
func (s *subscriber) errors(fault time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for i := 0; i < len(s.errs); {
		j := i
		for j < len(s.errs) && s.errs[j] == s.errs[i] {
			j++
		}
		parts = append(parts, fmt.Sprintf("%s ×%d from +%v", s.errs[i], j-i, s.errsAt[i].Sub(fault).Round(time.Millisecond)))
		i = j
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
