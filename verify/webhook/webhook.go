// Package webhook delivers sign-in codes by POSTing them, signed, to an
// HTTP endpoint: the operator's SMS gateway.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// Webhook defaults.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 2
)

// Headers of a webhook delivery. The signature is
//
//	v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// over the exact bytes of the body, so a receiver checks it before parsing
// and refuses timestamps too far from its clock to stop replays.
const (
	HeaderTimestamp = "X-Passgate-Timestamp"
	HeaderSignature = "X-Passgate-Signature"
	// Same on every try of one delivery, so a receiver can drop repeats.
	HeaderDelivery = "X-Passgate-Delivery"
)

// Sender delivers a code by POSTing JSON to an HTTP endpoint (an
// SMS gateway of the operator's), signed with a shared secret. It retries
// network errors and 5xx answers with exponential backoff, never 4xx ones
// (the receiver refused the message; sending it again will not help), and
// gives up when Timeout has passed since the first try.
type Sender struct {
	URL    string
	Secret []byte
	// Bound on the whole delivery, every try and pause included.
	Timeout time.Duration
	// Tries after the first.
	Retries int
	// Pause before retry n (1-based); nil means 250ms doubling each time.
	Backoff func(n int) time.Duration
	// Client sends the requests; nil means one that follows no redirects.
	Client *http.Client
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time
}

// webhookBody is what the receiver gets.
type webhookBody struct {
	To        string    `json:"to"`
	Code      string    `json:"code"`
	Message   string    `json:"message"`
	ExpiresAt time.Time `json:"expires_at"`
	// Link is the magic link, when the start asked for one (the OTPless
	// door's magic links by SMS); the message text carries the code only.
	Link string `json:"link,omitempty"`
}

var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Send implements Sender.
func (s *Sender) Send(ctx context.Context, m verify.Message) error {
	now := s.now()
	body, err := json.Marshal(webhookBody{
		To: m.To, Code: m.Code, Message: MessageText(m, now), ExpiresAt: m.ExpiresAt.UTC(), Link: m.Link,
	})
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delivery := rand.Text()

	var lastErr error
	for try := 0; try <= s.Retries; try++ {
		if try > 0 {
			t := time.NewTimer(s.backoff(try))
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("webhook: gave up after %d tries: %v (last: %v)", try, ctx.Err(), lastErr)
			case <-t.C:
			}
		}
		retry, err := s.post(ctx, body, delivery)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("webhook: gave up after %d tries (last: %v)", s.Retries+1, lastErr)
}

// DeliveryTimeout implements TimeoutSender: Timeout bounds the whole
// delivery.
func (s *Sender) DeliveryTimeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

func (s *Sender) backoff(n int) time.Duration {
	if s.Backoff != nil {
		return s.Backoff(n)
	}
	return 250 * time.Millisecond << (n - 1)
}

// post makes one try; retry says whether another may succeed.
func (s *Sender) post(ctx context.Context, body []byte, delivery string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook: %v", err)
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "passgate-webhook/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, WebhookSignature(s.Secret, ts, body))
	req.Header.Set(HeaderDelivery, delivery)
	client := s.Client
	if client == nil {
		client = noRedirects
	}
	resp, err := client.Do(req)
	if err != nil {
		// Without the URL: an SMS gateway's may carry an API key.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, fmt.Errorf("webhook: %w", err)
	}
	// Drain a little so the connection can be reused; the body is the
	// receiver's business and is not logged.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook: receiver answered %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("webhook: receiver refused the message with %d", resp.StatusCode)
	}
}

// WebhookSignature is the value of the X-Passgate-Signature header for a
// body sent at the Unix time ts (decimal seconds).
func WebhookSignature(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// MessageText is the human text of a code message, as an SMS would carry
// it: "Your sign-in code is 123456. It expires in 10 minutes."
func MessageText(m verify.Message, now time.Time) string {
	left := m.ExpiresAt.Sub(now)
	mins := int((left + time.Minute - 1) / time.Minute) // rounded up: 9m59.9s reads "10 minutes"
	unit := "minutes"
	if mins <= 1 {
		mins, unit = 1, "minute"
	}
	return fmt.Sprintf("Your sign-in code is %s. It expires in %d %s.", m.Code, mins, unit)
}

var _ verify.NamedSender = (*Sender)(nil)
var _ verify.TimeoutSender = (*Sender)(nil)

// SenderName implements verify.NamedSender.
func (s *Sender) SenderName() string { return "webhook" }

// CheckURL checks a webhook endpoint: http or https, with a host.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q: must be http:// or https:// with a host", s)
	}
	return nil
}

// MinSecretLen is the shortest webhook secret accepted: 128 bits of a
// random string, the usual floor of signing secrets.
const MinSecretLen = 16

// CheckSecret checks a webhook secret's length.
func CheckSecret(s string) error {
	if len(s) < MinSecretLen {
		return fmt.Errorf("sms webhook secret is %d bytes; at least %d are needed", len(s), MinSecretLen)
	}
	return nil
}
