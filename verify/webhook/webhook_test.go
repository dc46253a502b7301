package webhook

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

var webhookSecret = []byte("whsec-test-0123456789abcdef")

// receiver is an SMS gateway stand-in: it checks each request the way the
// README tells operators to, then answers with the next status of its
// script (the last one repeats).
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	statuses []int
	hang     chan struct{} // if set, requests block until it is closed
	got      []webhookBody
	delivery []string
	badSig   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if rc.hang != nil {
		select {
		case <-rc.hang:
		case <-r.Context().Done():
		}
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !verifyWebhook(r.Header, body, webhookSecret, time.Now()) {
		rc.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b webhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		rc.t.Errorf("receiver: body %q: %v", body, err)
	}
	rc.got = append(rc.got, b)
	rc.delivery = append(rc.delivery, r.Header.Get(HeaderDelivery))
	status := rc.statuses[min(len(rc.got)-1, len(rc.statuses)-1)]
	w.WriteHeader(status)
}

// verifyWebhook is the receiver-side check of the README.
func verifyWebhook(h http.Header, body, secret []byte, now time.Time) bool {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	want := WebhookSignature(secret, ts, body)
	return hmac.Equal([]byte(want), []byte(h.Get(HeaderSignature)))
}

func TestSender(t *testing.T) {
	expires := time.Now().Add(10 * time.Minute).Truncate(time.Millisecond)
	msg := verify.Message{Channel: verify.ChannelPhone, To: "+447946095800", Code: "042137", ExpiresAt: expires}
	for _, tc := range []struct {
		name     string
		statuses []int
		secret   []byte
		wantErr  bool
		wantGot  int // requests the receiver accepted
		wantSigs int // requests refused for their signature
	}{
		{name: "accepted", statuses: []int{200}, wantGot: 1},
		{name: "204 accepted", statuses: []int{204}, wantGot: 1},
		{name: "5xx then success is retried", statuses: []int{503, 500, 200}, wantGot: 3},
		{name: "5xx every time gives up after the retries", statuses: []int{502}, wantErr: true, wantGot: 3},
		{name: "4xx is not retried", statuses: []int{400}, wantErr: true, wantGot: 1},
		{name: "429 is not retried", statuses: []int{429}, wantErr: true, wantGot: 1},
		{name: "redirect is not followed", statuses: []int{302}, wantErr: true, wantGot: 1},
		{name: "wrong secret is refused by the receiver", statuses: []int{200}, secret: []byte("another-secret-0123456789"), wantErr: true, wantSigs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{t: t, statuses: tc.statuses}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			secret := webhookSecret
			if tc.secret != nil {
				secret = tc.secret
			}
			s := &Sender{URL: srv.URL, Secret: secret, Timeout: 30 * time.Second, Retries: 2,
				Backoff: func(int) time.Duration { return time.Millisecond }}
			err := s.Send(context.Background(), msg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Send: %v, want error %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), msg.Code) {
				t.Fatalf("error %q quotes the code", err)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.got) != tc.wantGot || rc.badSig != tc.wantSigs {
				t.Fatalf("receiver accepted %d and refused %d signatures, want %d and %d", len(rc.got), rc.badSig, tc.wantGot, tc.wantSigs)
			}
			for i, b := range rc.got {
				want := webhookBody{To: msg.To, Code: msg.Code, ExpiresAt: expires.UTC(),
					Message: "Your sign-in code is 042137. It expires in 10 minutes."}
				if b != want {
					t.Fatalf("body %+v, want %+v", b, want)
				}
				if rc.delivery[i] == "" || rc.delivery[i] != rc.delivery[0] {
					t.Fatalf("delivery ids %q: want one id on every try", rc.delivery)
				}
			}
		})
	}
}

// A receiver that never answers costs at most the timeout, retries
// included, and is an error.
func TestSenderTimeout(t *testing.T) {
	rc := &receiver{t: t, hang: make(chan struct{})}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	defer close(rc.hang)
	s := &Sender{URL: srv.URL, Secret: webhookSecret, Timeout: 100 * time.Millisecond, Retries: 5,
		Backoff: func(int) time.Duration { return time.Millisecond }}
	err := s.Send(context.Background(), verify.Message{To: "+447946095800", Code: "123456", ExpiresAt: time.Now().Add(time.Minute)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a hung receiver: %v, want a deadline error", err)
	}
}

// The service bounds a background delivery by the sender's own timeout.
func TestWebhookDeliveryTimeout(t *testing.T) {
	if d := (&Sender{Timeout: 3 * time.Second}).DeliveryTimeout(); d != 3*time.Second {
		t.Fatalf("DeliveryTimeout = %v, want the 3s timeout", d)
	}
	if d := (&Sender{}).DeliveryTimeout(); d != DefaultTimeout {
		t.Fatalf("DeliveryTimeout without a timeout = %v, want %v", d, DefaultTimeout)
	}
}

// A receiver that is down is a network error: retried, then an error.
func TestSenderUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	tries := 0
	s := &Sender{URL: url, Secret: webhookSecret, Retries: 2,
		Backoff: func(int) time.Duration { tries++; return time.Millisecond }}
	if err := s.Send(context.Background(), verify.Message{Code: "123456", ExpiresAt: time.Now()}); err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if tries != 2 {
		t.Fatalf("%d retries, want 2", tries)
	}
}

func TestMessageText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{10 * time.Minute, "Your sign-in code is 123456. It expires in 10 minutes."},
		{9*time.Minute + 59*time.Second, "Your sign-in code is 123456. It expires in 10 minutes."},
		{5 * time.Minute, "Your sign-in code is 123456. It expires in 5 minutes."},
		{30 * time.Second, "Your sign-in code is 123456. It expires in 1 minute."},
		{-time.Second, "Your sign-in code is 123456. It expires in 1 minute."},
	} {
		if got := MessageText(verify.Message{Code: "123456", ExpiresAt: now.Add(tc.left)}, now); got != tc.want {
			t.Errorf("%v left: %q, want %q", tc.left, got, tc.want)
		}
	}
}
