// Package smtpmail delivers sign-in codes and magic links by email, over
// SMTP with implicit TLS, STARTTLS or (for a relay on loopback) none, as a
// multipart/alternative message with a text and an HTML part.
package smtpmail

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// TLS modes.
const (
	TLSNone     = "none"     // plain text; AUTH only to a server on loopback
	TLSStartTLS = "starttls" // upgrade with STARTTLS; refuse a server without it
	TLSImplicit = "implicit" // TLS from the first byte (port 465)
)

// Defaults.
const (
	DefaultSubject = "Your sign-in code"
	DefaultTimeout = 15 * time.Second
)

// Config describes how to reach the mail server and what to send.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// From is the sender, "addr@example.com" or "Name <addr@example.com>".
	From string
	// Username and Password, if set, are sent with AUTH PLAIN or LOGIN.
	Username string
	Password string
	// TLS is TLSNone, TLSStartTLS or TLSImplicit; empty means implicit on
	// port 465 and STARTTLS elsewhere.
	TLS string
	// Subject of every message; empty means DefaultSubject.
	Subject string
	// TemplatesDir, if set, holds text.tmpl and/or html.tmpl replacing the
	// embedded defaults.
	TemplatesDir string
	// Timeout bounds the dial and, separately, the whole conversation.
	// Zero means DefaultTimeout.
	Timeout time.Duration
}

// Validate checks c and fills in defaults. Its errors are fit to show an
// operator.
func (c *Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("address %q: want host:port", c.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: bad port", c.Addr)
	}
	switch c.TLS {
	case "":
		c.TLS = TLSStartTLS
		if port == "465" {
			c.TLS = TLSImplicit
		}
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("tls %q: want none, starttls or implicit", c.TLS)
	}
	if c.From == "" {
		return errors.New("from: a sender address is required")
	}
	if _, err := ParseFrom(c.From); err != nil {
		return err
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("username and password go together")
	}
	if strings.ContainsAny(c.Username+c.Password, "\r\n\x00") {
		return errors.New("username and password may not contain line breaks or NUL")
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if err := checkSubject(c.Subject); err != nil {
		return err
	}
	if c.Timeout < 0 {
		return errors.New("timeout must be above 0")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return nil
}

// ParseFrom parses a sender address, refusing anything that could add a
// header or a recipient.
func ParseFrom(from string) (*mail.Address, error) {
	if strings.ContainsFunc(from, unicode.IsControl) {
		return nil, fmt.Errorf("from %q: control characters are not allowed", from)
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("from %q: %v", from, err)
	}
	if err := checkAddress(a.Address); err != nil {
		return nil, fmt.Errorf("from %q: %v", from, err)
	}
	return a, nil
}

// checkAddress refuses an envelope address that SMTP or a header could
// read as more than one address.
func checkAddress(addr string) error {
	if addr == "" || len(addr) > 254 || strings.ContainsFunc(addr, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || strings.ContainsRune("<>,;\"\\", r)
	}) {
		return fmt.Errorf("unusable address %q", addr)
	}
	if at := strings.LastIndexByte(addr, '@'); at < 1 || at == len(addr)-1 {
		return fmt.Errorf("unusable address %q", addr)
	}
	return nil
}

func checkSubject(s string) error {
	if len(s) > 200 {
		return errors.New("subject: at most 200 bytes")
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return fmt.Errorf("subject %q: line breaks and control characters are not allowed", s)
	}
	return nil
}
