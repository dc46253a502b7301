package smtpmail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/testenv/smtptest"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/smtpmail"
)

const testLink = "https://app.example.com/auth/magic?token=AbC-_0123456789abcdefghijklmnopqrstuvwxyzABCD"

func message() verify.Message {
	return verify.Message{Channel: "email", To: "ann@example.com", Code: "042137", Link: testLink, ExpiresAt: time.Now().Add(10 * time.Minute)}
}

func newSender(t *testing.T, srv *smtptest.Server, cfg smtpmail.Config) *smtpmail.Sender {
	t.Helper()
	cfg.Addr = srv.Addr
	if cfg.From == "" {
		cfg.From = "Passgate <noreply@example.com>"
	}
	s, err := smtpmail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.TLSConfig = srv.ClientTLS()
	return s
}

// parsed is a received message taken apart as a mail client would.
type parsed struct {
	header mail.Header
	text   string
	html   string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, data)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	p := parsed{header: m.Header}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// NextPart decodes quoted-printable itself and drops the header.
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		switch ct := part.Header.Get("Content-Type"); ct {
		case "text/plain; charset=utf-8":
			p.text = string(body)
		case "text/html; charset=utf-8":
			p.html = string(body)
		default:
			t.Fatalf("unexpected part %q", ct)
		}
	}
	return p
}

func TestDeliveryVariants(t *testing.T) {
	users := map[string]string{"mailer": "s3cret pass"}
	for _, tc := range []struct {
		name     string
		srv      smtptest.Options
		cfg      smtpmail.Config
		wantTLS  bool
		wantMech string
	}{
		{"none", smtptest.Options{}, smtpmail.Config{TLS: "none"}, false, ""},
		{"none with PLAIN on loopback", smtptest.Options{Users: users}, smtpmail.Config{TLS: "none", Username: "mailer", Password: "s3cret pass"}, false, "PLAIN"},
		{"starttls", smtptest.Options{StartTLS: true}, smtpmail.Config{TLS: "starttls"}, true, ""},
		{"starttls with PLAIN", smtptest.Options{StartTLS: true, Users: users}, smtpmail.Config{TLS: "starttls", Username: "mailer", Password: "s3cret pass"}, true, "PLAIN"},
		{"starttls with LOGIN", smtptest.Options{StartTLS: true, Users: users, Mechanisms: "LOGIN"}, smtpmail.Config{TLS: "starttls", Username: "mailer", Password: "s3cret pass"}, true, "LOGIN"},
		{"implicit", smtptest.Options{Implicit: true}, smtpmail.Config{TLS: "implicit"}, true, ""},
		{"implicit with LOGIN", smtptest.Options{Implicit: true, Users: users, Mechanisms: "CRAM-MD5 LOGIN"}, smtpmail.Config{TLS: "implicit", Username: "mailer", Password: "s3cret pass"}, true, "LOGIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.srv)
			s := newSender(t, srv, tc.cfg)
			if err := s.Send(context.Background(), message()); err != nil {
				t.Fatal(err)
			}
			got := srv.Next(t)
			if got.TLS != tc.wantTLS || got.AuthMech != tc.wantMech || (tc.wantMech != "" && got.Auth != "mailer") {
				t.Fatalf("received over TLS=%v auth %q/%q, want TLS=%v auth %q", got.TLS, got.Auth, got.AuthMech, tc.wantTLS, tc.wantMech)
			}
			if got.From != "noreply@example.com" || len(got.To) != 1 || got.To[0] != "ann@example.com" {
				t.Fatalf("envelope from %q to %v", got.From, got.To)
			}
			p := parse(t, got.Data)
			for _, part := range []string{p.text, p.html} {
				if !strings.Contains(part, "042137") || !strings.Contains(part, testLink) {
					t.Fatalf("part lacks the code or the link:\n%s", part)
				}
			}
			if !strings.Contains(p.html, `href="`+testLink+`"`) {
				t.Fatalf("HTML part has no link to click:\n%s", p.html)
			}
			if p.header.Get("Subject") != "Your sign-in code" || p.header.Get("To") != "<ann@example.com>" ||
				p.header.Get("From") != `"Passgate" <noreply@example.com>` || p.header.Get("MIME-Version") != "1.0" {
				t.Fatalf("headers %v", p.header)
			}
			if d, err := p.header.Date(); err != nil || time.Since(d) > time.Minute || time.Until(d) > time.Minute {
				t.Fatalf("Date %q: %v", p.header.Get("Date"), err)
			}
			if id := p.header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
				t.Fatalf("Message-ID %q", id)
			}
		})
	}
}

func TestDeliveryFailures(t *testing.T) {
	users := map[string]string{"mailer": "right"}
	for _, tc := range []struct {
		name string
		srv  smtptest.Options
		cfg  smtpmail.Config
		want string // in the error
	}{
		{"rcpt rejected", smtptest.Options{RejectRcpt: true}, smtpmail.Config{TLS: "none"}, "RCPT TO"},
		{"wrong password", smtptest.Options{StartTLS: true, Users: users}, smtpmail.Config{TLS: "starttls", Username: "mailer", Password: "wrong"}, "AUTH"},
		{"auth required", smtptest.Options{StartTLS: true, Users: users}, smtpmail.Config{TLS: "starttls"}, "MAIL FROM"},
		{"no STARTTLS offered", smtptest.Options{}, smtpmail.Config{TLS: "starttls"}, "STARTTLS"},
		{"no AUTH offered", smtptest.Options{StartTLS: true}, smtpmail.Config{TLS: "starttls", Username: "u", Password: "p"}, "AUTH"},
		{"no usable mechanism", smtptest.Options{StartTLS: true, Users: users, Mechanisms: "CRAM-MD5"}, smtpmail.Config{TLS: "starttls", Username: "mailer", Password: "right"}, "mechanism"},
		{"implicit to a plain server", smtptest.Options{}, smtpmail.Config{TLS: "implicit", Timeout: 2 * time.Second}, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.srv)
			s := newSender(t, srv, tc.cfg)
			err := s.Send(context.Background(), message())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "042137") || strings.Contains(err.Error(), "right") {
				t.Fatalf("error leaks a secret: %v", err)
			}
			if n := srv.Pending(); n != 0 {
				t.Fatalf("%d messages accepted", n)
			}
		})
	}
}

// A server that never answers: the conversation timeout ends the wait.
func TestSilentServerTimesOut(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Silent: true})
	s := newSender(t, srv, smtpmail.Config{TLS: "none", Timeout: 300 * time.Millisecond})
	err := s.Send(context.Background(), message())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout", err)
	}
}

// The service bounds a background delivery by the sender's timeout: the
// dial's and the conversation's.
func TestDeliveryTimeout(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	if d := newSender(t, srv, smtpmail.Config{TLS: "none", Timeout: 300 * time.Millisecond}).DeliveryTimeout(); d != 600*time.Millisecond {
		t.Fatalf("DeliveryTimeout = %v, want 600ms: the dial, then the conversation", d)
	}
}

// Cancelling the context stops the conversation, whatever the timeout.
func TestCancelledContextStops(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Silent: true})
	s := newSender(t, srv, smtpmail.Config{TLS: "none", Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, message()); err == nil {
		t.Fatal("a cancelled send succeeded")
	}
}

func TestNoHeaderInjection(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtpmail.Config{TLS: "none"})
	for _, to := range []string{
		"ann@example.com\r\nBcc: eve@evil.example",
		"ann@example.com\nBcc: eve@evil.example",
		"ann@example.com>\r\nRCPT TO:<eve@evil.example",
		"ann@example.com, eve@evil.example",
		"eve@evil.example;ann@example.com",
		"<ann@example.com>",
		"",
	} {
		m := message()
		m.To = to
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("Send to %q succeeded", to)
		}
	}
	if n := srv.Pending(); n != 0 {
		t.Fatalf("%d messages accepted", n)
	}
	for _, cfg := range []smtpmail.Config{
		{Addr: srv.Addr, From: "noreply@example.com\r\nBcc: eve@evil.example"},
		{Addr: srv.Addr, From: "Passgate <noreply@example.com>, eve@evil.example"},
		{Addr: srv.Addr, From: "not an address"},
		{Addr: srv.Addr, From: "noreply@example.com", Subject: "Hi\r\nBcc: eve@evil.example"},
		{Addr: srv.Addr, From: "noreply@example.com", Subject: "Hi\nX: y"},
		{Addr: srv.Addr, From: "noreply@example.com", Username: "u\r\nQUIT", Password: "p"},
		{Addr: srv.Addr, From: "noreply@example.com", Username: "u"},
		{Addr: srv.Addr, From: "noreply@example.com", TLS: "ssl"},
		{Addr: "no-port", From: "noreply@example.com"},
		{Addr: srv.Addr},
	} {
		if _, err := smtpmail.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestNonASCIISubjectIsEncoded(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtpmail.Config{TLS: "none", Subject: "Votre code de connexion — ünïcode"})
	if err := s.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	data := srv.Next(t).Data
	raw := string(data[:bytes.Index(data, []byte("\n\n"))]) // ReadDotBytes gives LF line ends
	for _, b := range []byte(raw) {
		if b >= 0x80 {
			t.Fatalf("raw header has non-ASCII bytes:\n%s", raw)
		}
	}
	p := parse(t, data)
	dec, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	if err != nil || dec != "Votre code de connexion — ünïcode" {
		t.Fatalf("Subject decodes to %q, %v", dec, err)
	}
}

func TestTemplatesFromDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "text.tmpl"), []byte("Code {{.Code}} for {{.To}}, link {{.Link}}, {{.ValidFor}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// html.tmpl is absent: the embedded one is used.
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtpmail.Config{TLS: "none", TemplatesDir: dir})
	if err := s.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	p := parse(t, srv.Next(t).Data)
	if !strings.HasPrefix(p.text, "Code 042137 for ann@example.com, link "+testLink+", 10 minutes") {
		t.Fatalf("text part %q", p.text)
	}
	if !strings.Contains(p.html, "042137") {
		t.Fatalf("html part %q", p.html)
	}

	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "html.tmpl"), []byte("{{.Nope}}"), 0o600)
	if _, err := smtpmail.New(smtpmail.Config{Addr: srv.Addr, From: "a@example.com", TemplatesDir: bad}); err == nil {
		t.Fatal("a template using an unknown field was accepted")
	}
}

// Dot-stuffing and long lines survive the trip: a link longer than a
// quoted-printable line arrives whole.
func TestLongLinkSurvives(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtpmail.Config{TLS: "none"})
	m := message()
	m.Link = "https://" + strings.Repeat("a", 60) + ".example.com/auth/magic?token=" + strings.Repeat("Z", 43)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p := parse(t, srv.Next(t).Data)
	if !strings.Contains(p.text, m.Link) || !strings.Contains(p.html, m.Link) {
		t.Fatalf("long link broken:\n%s", p.text)
	}
}
