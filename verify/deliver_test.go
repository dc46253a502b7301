package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

// gatedSender holds every delivery until the test lets one through: each
// Send announces its message on entered, then waits for a token on
// release (or for its context to end), then returns err.
type gatedSender struct {
	entered chan verify.Message
	release chan struct{}
	err     error
	timeout time.Duration // DeliveryTimeout, if not zero

	mu        sync.Mutex
	deadlines []time.Time // of each Send's context; zero if none
	ctxErrs   []error     // each Send's context's error when it returned
}

func newGatedSender(err error) *gatedSender {
	return &gatedSender{entered: make(chan verify.Message, 100), release: make(chan struct{}, 100), err: err}
}

func (g *gatedSender) Send(ctx context.Context, m verify.Message) error {
	dl, _ := ctx.Deadline()
	g.mu.Lock()
	g.deadlines = append(g.deadlines, dl)
	g.mu.Unlock()
	g.entered <- m
	var err error
	select {
	case <-g.release:
		err = g.err
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	g.ctxErrs = append(g.ctxErrs, ctx.Err())
	g.mu.Unlock()
	return err
}

// openAll lets every delivery, present and future, through.
func (g *gatedSender) openAll() {
	for range cap(g.release) - len(g.release) {
		g.release <- struct{}{}
	}
}

type timeoutGatedSender struct{ *gatedSender }

func (g timeoutGatedSender) DeliveryTimeout() time.Duration { return g.timeout }

// next returns the next message that reached the sender.
func (g *gatedSender) next(t *testing.T) verify.Message {
	t.Helper()
	select {
	case m := <-g.entered:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery reached the sender within 10s")
		return verify.Message{}
	}
}

// deliveryLog records the delivery events: how each delivery ended.
type deliveryLog struct {
	mu    sync.Mutex
	ended []string // "channel: error or ok"
	errs  []error
	ch    chan struct{}
}

func newDeliveryLog() *deliveryLog { return &deliveryLog{ch: make(chan struct{}, 1000)} }

func (l *deliveryLog) Event(ev verify.Event) {
	if ev.Kind != verify.EventCodeSent && ev.Kind != verify.EventDeliveryFailed {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	res := "ok"
	if ev.Err != nil {
		res = ev.Err.Error()
	}
	l.ended = append(l.ended, ev.Channel+": "+res)
	l.errs = append(l.errs, ev.Err)
	l.ch <- struct{}{}
}

func (l *deliveryLog) get() ([]string, []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ended...), append([]error(nil), l.errs...)
}

// answer runs Start and returns its answer, failing the test if none
// comes within 10 s: the answer must not wait for the delivery.
func answer(t *testing.T, s *verify.Engine, ctx context.Context, req verify.StartRequest) verify.Started {
	t.Helper()
	type result struct {
		st  verify.Started
		err error
	}
	ch := make(chan result, 1)
	go func() {
		st, err := s.Start(ctx, req)
		ch <- result{st, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Start(%s %s): %v, want an answer before the delivery ends", req.Channel, req.Identifier, r.err)
		}
		return r.st
	case <-time.After(10 * time.Second):
		t.Fatalf("Start(%s %s) gave no answer within 10s while its delivery was held", req.Channel, req.Identifier)
		return verify.Started{}
	}
}

// Every start answers at once, real or decoy, while a real delivery is
// still held by its sender; on both channels.
func TestStartAnswersWhileTheDeliveryIsHeld(t *testing.T) {
	for _, tc := range []struct{ channel, allowed, refused, unknown string }{
		{"email", "ann@example.com", "ann@elsewhere.example", "new@example.com"},
		{"phone", "+447946095800", "+12025550100", "+447946095801"},
	} {
		t.Run(tc.channel, func(t *testing.T) {
			gate := newGatedSender(nil)
			log := newDeliveryLog()
			s, _, store := newService(t, allowPhones, withSenders(map[string]verify.Sender{tc.channel: gate}), withListener(log))
			t.Cleanup(func() { gate.openAll(); s.Wait() })
			ctx := context.Background()
			if _, err := store.RecordSignIn(ctx, tc.channel, tc.allowed, "u1", nil, time.Now()); err != nil {
				t.Fatal(err)
			}

			real := answer(t, s, ctx, verify.StartRequest{Channel: tc.channel, Identifier: tc.allowed, CreateUser: true})
			if m := gate.next(t); m.To != tc.allowed || m.Channel != tc.channel || m.Code == "" {
				t.Fatalf("held message %+v, want a code to %s", m, tc.allowed)
			}
			// The real delivery is held; decoys answer all the same.
			decoys := []verify.Started{
				answer(t, s, ctx, verify.StartRequest{Channel: tc.channel, Identifier: tc.refused, CreateUser: true}),
				answer(t, s, ctx, verify.StartRequest{Channel: tc.channel, Identifier: tc.unknown, CreateUser: false}),
			}
			realKnown := answer(t, s, ctx, verify.StartRequest{Channel: tc.channel, Identifier: tc.allowed, CreateUser: false})
			if m := gate.next(t); m.To != tc.allowed {
				t.Fatalf("second held message to %s, want %s", m.To, tc.allowed)
			}
			if n := s.InFlight(); n != 2 {
				t.Fatalf("%d deliveries in flight, want the 2 real ones", n)
			}
			for _, st := range append(decoys, real, realKnown) {
				if !verify.ValidAttemptID(st.AttemptID) || st.Channel != tc.channel || st.ExpiresAt.IsZero() {
					t.Fatalf("answer %+v", st)
				}
			}
			if ended, _ := log.get(); len(ended) != 0 {
				t.Fatalf("deliveries reported ended while held: %v", ended)
			}
			gate.openAll()
			s.Wait()
			if len(gate.entered) != 0 {
				t.Fatalf("%d more messages were sent: decoys must send nothing", len(gate.entered))
			}
			if ended, _ := log.get(); len(ended) != 2 || ended[0] != tc.channel+": ok" || ended[1] != tc.channel+": ok" {
				t.Fatalf("the delivery events were %v, want two successes on %s", ended, tc.channel)
			}
		})
	}
}

// A failed delivery makes the attempt void and is reported by the next
// check, which counts no try; the address may ask again at once.
func TestFailedDeliveryIsReportedByTheNextCheck(t *testing.T) {
	gate := newGatedSender(errors.New("550 no such mailbox"))
	log := newDeliveryLog()
	s, _, _ := limitedService(t, verify.Limits{ResendCooldown: time.Minute, SendsPerHour: 1, WrongCodesPerDay: 2},
		withSenders(map[string]verify.Sender{"email": gate}), withListener(log))
	t.Cleanup(func() { gate.openAll(); s.Wait() })
	ctx := context.Background()
	req := verify.StartRequest{Channel: "email", Identifier: "ned@example.com", CreateUser: true, Link: linkTo}

	st := answer(t, s, ctx, req)
	m := gate.next(t)
	gate.release <- struct{}{}
	s.Wait()
	ended, errs := log.get()
	if len(ended) != 1 || !errors.Is(errs[0], verify.ErrDeliveryFailed) || !strings.Contains(ended[0], "550 no such mailbox") {
		t.Fatalf("the delivery events were %v, want one ErrDeliveryFailed naming the sender's error", ended)
	}
	if strings.Contains(ended[0], m.Code) || strings.Contains(ended[0], tokenOf(t, m.Link)) {
		t.Fatalf("the failure report %q holds the code or the link", ended[0])
	}
	// Even the right code: the message never arrived, and nothing may sign
	// in with it. Each check says why, and counts no try.
	for range 3 {
		if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: m.Code}); !errors.Is(err, verify.ErrDeliveryFailed) {
			t.Fatalf("check after a failed delivery: %v, want ErrDeliveryFailed", err)
		}
	}
	if _, err := s.PeekLink(ctx, tokenOf(t, m.Link)); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("link of a failed delivery: %v, want ErrAttemptNotFound", err)
	}
	if _, err := s.CheckLink(ctx, tokenOf(t, m.Link), verify.Caller{}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("link of a failed delivery: %v, want ErrAttemptNotFound", err)
	}

	// The cooldown and the hourly cap were given back: on the same clock,
	// the person asks again at once.
	gate.err = nil
	st = answer(t, s, ctx, req)
	m = gate.next(t)
	gate.release <- struct{}{}
	s.Wait()
	// And the daily wrong-code budget (2) is whole: both wrong codes are
	// compared.
	for left := 4; left >= 3; left-- {
		var wc *verify.WrongCodeError
		if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(m.Code)}); !errors.As(err, &wc) || wc.AttemptsLeft != left {
			t.Fatalf("wrong code after the failed attempt's checks: %v, want %d tries left", err, left)
		}
	}
}

// recordingStore notes the store calls a start makes, by kind and shape
// (key kinds, field lengths), not by value: a real start and a decoy must
// make the same ones while the client waits for the answer.
type recordingStore struct {
	*memory.Store
	mu    sync.Mutex
	calls []string
}

func (r *recordingStore) record(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

// take returns the calls recorded since the last take.
func (r *recordingStore) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func keyKind(key string) string { kind, _, _ := strings.Cut(key, ":"); return kind }

func (r *recordingStore) CreateAttempt(ctx context.Context, a sessionstore.Attempt) error {
	r.record("CreateAttempt mac=%d token=%d ttl=%v redirect=%q createUser=%v", len(a.CodeMAC), len(a.TokenHash),
		a.ExpiresAt.Sub(a.CreatedAt), a.RedirectTo, a.CreateUser)
	return r.Store.CreateAttempt(ctx, a)
}

func (r *recordingStore) TryAttempt(ctx context.Context, id string) (sessionstore.Attempt, error) {
	r.record("TryAttempt")
	return r.Store.TryAttempt(ctx, id)
}

func (r *recordingStore) AttemptByToken(ctx context.Context, th []byte) (sessionstore.Attempt, error) {
	r.record("AttemptByToken")
	return r.Store.AttemptByToken(ctx, th)
}

func (r *recordingStore) DeleteAttempt(ctx context.Context, id string) (bool, error) {
	r.record("DeleteAttempt")
	return r.Store.DeleteAttempt(ctx, id)
}

func (r *recordingStore) FailAttempt(ctx context.Context, id string) error {
	r.record("FailAttempt")
	return r.Store.FailAttempt(ctx, id)
}

func (r *recordingStore) UserByIdentifier(ctx context.Context, channel, identifier string) (sessionstore.User, error) {
	r.record("UserByIdentifier %s", channel)
	return r.Store.UserByIdentifier(ctx, channel, identifier)
}

func (r *recordingStore) TakeSlot(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (string, time.Duration, error) {
	r.record("TakeSlot %s %d %v", keyKind(key), limit, window)
	return r.Store.TakeSlot(ctx, key, limit, window, now)
}

func (r *recordingStore) ReleaseSlot(ctx context.Context, key, slot string) error {
	r.record("ReleaseSlot %s", keyKind(key))
	return r.Store.ReleaseSlot(ctx, key, slot)
}

// A decoy makes the same store calls as a real start before it answers,
// with and without create_user; what a real one does after (here, a
// failed delivery giving back its slots) happens once it has answered.
func TestDecoyAndRealMakeTheSameStoreCalls(t *testing.T) {
	rec := &recordingStore{Store: memory.New(nil, 0)}
	gate := newGatedSender(errors.New("smtp down"))
	s, _, _ := newService(t, withStore(rec),
		withLimits(verify.Limits{ResendCooldown: time.Minute, SendsPerHour: 5, StartsPerIP: 100, StartsPerIPWindow: 10 * time.Minute}),
		withSenders(map[string]verify.Sender{"email": gate}))
	t.Cleanup(func() { gate.openAll(); s.Wait() })
	ctx := context.Background()
	if _, err := rec.RecordSignIn(ctx, "email", "old@example.com", "u1", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T, email string, createUser bool) []string {
		t.Helper()
		rec.take()
		answer(t, s, ctx, verify.StartRequest{Channel: "email", Identifier: email, CreateUser: createUser,
			RedirectTo: "/x", Caller: verify.Caller{ClientIP: "192.0.2.1"}, Link: linkTo})
		return rec.take()
	}
	for _, tc := range []struct {
		name            string
		createUser      bool
		realTo, decoyTo string
		lookups         int // UserByIdentifier calls: every start reads the user (is it blocked?)
	}{
		{"create_user", true, "ann@example.com", "ann@elsewhere.example", 1},
		{"no create_user", false, "old@example.com", "new@example.com", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			real := start(t, tc.realTo, tc.createUser)
			if m := gate.next(t); m.To != tc.realTo {
				t.Fatalf("message to %s, want %s", m.To, tc.realTo)
			}
			decoy := start(t, tc.decoyTo, tc.createUser)
			joined := strings.Join(real, "\n")
			if joined != strings.Join(decoy, "\n") || strings.Count(joined, "CreateAttempt") != 1 ||
				strings.Count(joined, "UserByIdentifier") != tc.lookups || !strings.Contains(joined, "TakeSlot ips") {
				t.Fatalf("store calls before the answer:\nreal:  %q\ndecoy: %q\nwant the same, with the limits, %d user lookups and one attempt",
					real, decoy, tc.lookups)
			}
			// After the failure: the attempt marked, and every slot of the
			// address (not the client's) given back.
			want := []string{"FailAttempt"}
			for _, c := range real {
				if kind, ok := strings.CutPrefix(c, "TakeSlot "); ok && !strings.HasPrefix(kind, "ips ") {
					want = append(want, "ReleaseSlot "+strings.Fields(kind)[0])
				}
			}
			gate.release <- struct{}{}
			s.Wait()
			if after := rec.take(); strings.Join(after, "\n") != strings.Join(want, "\n") || len(want) < 3 {
				t.Fatalf("store calls after the failed delivery: %q, want %q", after, want)
			}
		})
	}
}

// The delivery outlives the request (whose context is cancelled once it
// has its answer) but not its sender's timeout, counted from the answer.
func TestDeliveryOutlivesTheRequestNotItsTimeout(t *testing.T) {
	gate := newGatedSender(nil)
	gate.timeout = time.Minute
	log := newDeliveryLog()
	s, _, _ := newService(t, withSenders(map[string]verify.Sender{"email": timeoutGatedSender{gate}}), withListener(log))
	t.Cleanup(func() { gate.openAll(); s.Wait() })

	// Cancelled request, released delivery: sent.
	ctx, cancel := context.WithCancel(context.Background())
	before := time.Now()
	answer(t, s, ctx, verify.StartRequest{Channel: "email", Identifier: "ann@example.com", CreateUser: true})
	after := time.Now()
	cancel()
	gate.next(t)
	gate.release <- struct{}{}
	s.Wait()
	ended, errs := log.get()
	if len(ended) != 1 || errs[0] != nil {
		t.Fatalf("deliveries ended %v, want one sent", ended)
	}
	gate.mu.Lock()
	dl, ctxErr := gate.deadlines[0], gate.ctxErrs[0]
	gate.mu.Unlock()
	if dl.Before(before.Add(gate.timeout)) || dl.After(after.Add(gate.timeout)) {
		t.Fatalf("delivery's deadline %v, want its timeout (%v) after the answer (%v to %v)", dl, gate.timeout, before, after)
	}
	if ctxErr != nil {
		t.Fatalf("the request's cancellation reached the delivery: %v", ctxErr)
	}

	// Never released: the sender's own timeout ends it.
	gate2 := newGatedSender(nil)
	gate2.timeout = 100 * time.Millisecond
	log2 := newDeliveryLog()
	s2, _, _ := newService(t, withSenders(map[string]verify.Sender{"email": timeoutGatedSender{gate2}}), withListener(log2))
	t.Cleanup(func() { gate2.openAll(); s2.Wait() })
	st := answer(t, s2, context.Background(), verify.StartRequest{Channel: "email", Identifier: "bob@example.com", CreateUser: true})
	gate2.next(t)
	s2.Wait()
	ended, errs = log2.get()
	if len(ended) != 1 || !errors.Is(errs[0], verify.ErrDeliveryFailed) || !strings.Contains(ended[0], "deadline exceeded") {
		t.Fatalf("deliveries ended %v, want one out of time", ended)
	}
	if _, err := s2.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: "000000"}); !errors.Is(err, verify.ErrDeliveryFailed) {
		t.Fatalf("check after a timed-out delivery: %v, want ErrDeliveryFailed", err)
	}
}

// Deliveries send MaxDeliveries at a time; the others wait their turn, up
// to a bound past which a new one fails at once rather than pile up.
func TestDeliveriesAreBounded(t *testing.T) {
	gate := newGatedSender(nil)
	log := newDeliveryLog()
	s, _, _ := newService(t, func(c *verify.Config) { c.MaxDeliveries = 1 },
		withSenders(map[string]verify.Sender{"email": gate}), withListener(log))
	t.Cleanup(func() { gate.openAll(); s.Wait() })
	ctx := context.Background()

	const waiting = 16 // per sending slot, as verify bounds it
	var ids []string
	for i := range 1 + waiting + 1 {
		st := answer(t, s, ctx, verify.StartRequest{Channel: "email", Identifier: fmt.Sprintf("u%d@example.com", i), CreateUser: true})
		ids = append(ids, st.AttemptID)
	}
	gate.next(t)
	// The last one was over the bound: it fails without being tried.
	select {
	case <-log.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery over the bound did not fail")
	}
	ended, errs := log.get()
	if len(ended) != 1 || !errors.Is(errs[0], verify.ErrDeliveryFailed) {
		t.Fatalf("ended %v, want one failure", ended)
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: ids[len(ids)-1], Code: "000000"}); !errors.Is(err, verify.ErrDeliveryFailed) {
		t.Fatalf("check of the dropped delivery: %v, want ErrDeliveryFailed", err)
	}
	if len(gate.entered) != 0 {
		t.Fatalf("%d deliveries are sending beside the first, want none (MaxDeliveries 1)", len(gate.entered))
	}
	// One at a time, in turn, the rest go out.
	for range waiting {
		gate.release <- struct{}{}
		gate.next(t)
	}
	gate.release <- struct{}{}
	s.Wait()
	if ended, _ := log.get(); len(ended) != 1+waiting+1 {
		t.Fatalf("%d deliveries ended, want %d", len(ended), 1+waiting+1)
	}
	if n := s.InFlight(); n != 0 {
		t.Fatalf("%d in flight after Wait", n)
	}
}

// A sender that panics fails its delivery; the process goes on.
func TestSenderPanicFailsTheDelivery(t *testing.T) {
	log := newDeliveryLog()
	s, _, _ := newService(t, withSenders(map[string]verify.Sender{"email": senderFunc(func(context.Context, verify.Message) error { panic("boom") })}),
		withListener(log))
	st := start(t, s, "ann@example.com")
	if ended, errs := log.get(); len(ended) != 1 || !errors.Is(errs[0], verify.ErrDeliveryFailed) || !strings.Contains(ended[0], "panicked") {
		t.Fatalf("ended %v, want a failure naming the panic", ended)
	}
	if _, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: "000000"}); !errors.Is(err, verify.ErrDeliveryFailed) {
		t.Fatalf("check: %v, want ErrDeliveryFailed", err)
	}
}
