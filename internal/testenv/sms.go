package testenv

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify/webhook"
)

// SMSSecret is the webhook secret of the gateways WithSMS configures.
const SMSSecret = "sms-webhook-secret-0123456789"

// SMSGateway is the operator's SMS endpoint: it checks each request's
// signature as the README shows, keeps what it got, and answers with the
// next status of its script (the last repeats). hang makes it never answer.
type SMSGateway struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	// Hang, if set before a request, makes the gateway never answer until
	// it is closed.
	Hang  chan struct{}
	tries int
	got   []map[string]any
	taken map[string]int // messages to each number already read by codeFor
}

// StartSMSGateway starts one that answers the given statuses in turn
// (200 if none).
func StartSMSGateway(t *testing.T, statuses ...int) *SMSGateway {
	s := &SMSGateway{t: t, statuses: statuses}
	if len(statuses) == 0 {
		s.statuses = []int{200}
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *SMSGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if s.Hang != nil {
		select {
		case <-s.Hang:
		case <-r.Context().Done():
		}
		return
	}
	ts := r.Header.Get("X-Passgate-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	want := webhook.WebhookSignature([]byte(SMSSecret), ts, body)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute ||
		!hmac.Equal([]byte(want), []byte(r.Header.Get("X-Passgate-Signature"))) {
		s.t.Errorf("SMS gateway: bad signature on %s", body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	status := s.statuses[min(s.tries-1, len(s.statuses)-1)]
	if status < 300 {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			s.t.Errorf("SMS gateway: %v: %s", err, body)
		}
		s.got = append(s.got, m)
	}
	w.WriteHeader(status)
}

// CodeFor returns the code of the next message delivered to phone that
// CodeFor has not returned yet, waiting up to 10 s for it: messages go out
// after /start has answered.
func (s *SMSGateway) CodeFor(phone string) string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		var codes []string
		for _, m := range s.got {
			if m["to"] == phone {
				codes = append(codes, m["code"].(string))
			}
		}
		if s.taken == nil {
			s.taken = map[string]int{}
		}
		if len(codes) > s.taken[phone] {
			s.taken[phone] = len(codes)
			s.mu.Unlock()
			return codes[len(codes)-1]
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			s.t.Fatalf("no new SMS to %s within 10s", phone)
		}
		time.Sleep(5 * time.Millisecond) // polling; nothing to wait on
	}
}

// Counts says how many requests came, and how many were delivered.
func (s *SMSGateway) Counts() (tries, delivered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries, len(s.got)
}

// WithSMS configures the webhook SMS delivery to s (and allows +4479
// numbers, with the role texters for +44 ones).
func WithSMS(s *SMSGateway, options string) Option {
	return WithSMSSecret(s, SMSSecret, options)
}

// WithSMSSecret is WithSMS with another secret (or placeholder).
func WithSMSSecret(s *SMSGateway, secret, options string) Option {
	return WithExtra(fmt.Sprintf("sms webhook %s {\n secret %s\n %s\n}\nallow phone +4479*\nrole texters phone +44*",
		s.srv.URL, secret, options))
}

// URL is the gateway's endpoint.
func (s *SMSGateway) URL() string { return s.srv.URL }

// Messages returns the bodies of the messages delivered so far.
func (s *SMSGateway) Messages() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}
