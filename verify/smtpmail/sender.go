package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// Sender delivers codes over SMTP. It is safe for concurrent use: each
// message has a connection of its own.
type Sender struct {
	cfg  Config
	from *mail.Address
	host string
	tmpl templates

	// TLSConfig, if set, is used for implicit TLS and STARTTLS instead of
	// the system roots (tests set RootCAs). ServerName is filled in.
	TLSConfig *tls.Config
	// Now is the clock for the Date header; nil means time.Now.
	Now func() time.Time
}

// New checks cfg, loads the templates and returns a Sender.
func New(cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	from, err := ParseFrom(cfg.From)
	if err != nil {
		return nil, err
	}
	tmpl, err := loadTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	return &Sender{cfg: cfg, from: from, host: host, tmpl: tmpl}, nil
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		c = s.TLSConfig.Clone()
	}
	c.ServerName = s.host
	return c
}

// DeliveryTimeout implements verify.TimeoutSender: the dial, then the
// conversation, each get Timeout.
func (s *Sender) DeliveryTimeout() time.Duration { return 2 * s.cfg.Timeout }

var _ verify.TimeoutSender = (*Sender)(nil)

// Send implements verify.Sender. Errors name the SMTP step that failed,
// never the code, the link or the password.
func (s *Sender) Send(ctx context.Context, m verify.Message) error {
	now := s.now()
	msg, err := s.compose(m, now)
	if err != nil {
		return err
	}
	// The timeout bounds the dial, then the whole conversation again.
	dialCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dialCtx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", s.cfg.Addr, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(s.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	// A cancelled request stops the conversation at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if s.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("smtp tls: %w", err)
		}
		conn = tc
	}
	return s.converse(conn, m.To, msg)
}

func (s *Sender) converse(conn net.Conn, to string, msg []byte) error {
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp EHLO: %w", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		// Never fall back to plain text: a STARTTLS stripped by someone in
		// the path would send the code (and the password) in clear.
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("smtp: the server does not offer STARTTLS (set tls none only for a relay on loopback)")
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("smtp STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return errors.New("smtp: the server does not offer AUTH")
		}
		var a smtp.Auth
		switch {
		case hasWord(mechs, "PLAIN"):
			a = smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)
		case hasWord(mechs, "LOGIN"):
			a = &loginAuth{username: s.cfg.Username, password: s.cfg.Password, host: s.host}
		default:
			return fmt.Errorf("smtp: no supported AUTH mechanism in %q (want PLAIN or LOGIN)", mechs)
		}
		if err := c.Auth(a); err != nil {
			return fmt.Errorf("smtp AUTH: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	// The message is accepted; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// loginAuth is AUTH LOGIN, which net/smtp lacks. Like smtp.PlainAuth, it
// refuses to send the password over an unencrypted connection to anything
// but loopback.
type loginAuth struct {
	username, password, host string
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	prompt := strings.ToLower(strings.TrimSpace(string(fromServer)))
	switch {
	case strings.HasPrefix(prompt, "user"):
		return []byte(a.username), nil
	case strings.HasPrefix(prompt, "pass"):
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected AUTH LOGIN prompt %q", fromServer)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Interface guard
var _ verify.Sender = (*Sender)(nil)

// SenderName implements verify.NamedSender.
func (s *Sender) SenderName() string { return "smtp" }
