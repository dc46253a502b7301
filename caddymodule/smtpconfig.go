package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/verify/smtpmail"
)

// SMTPConfig sends codes and magic links through an SMTP server.
type SMTPConfig struct {
	// Address of the server, host:port.
	Addr string `json:"addr"`
	// Sender address, "noreply@example.com" or "Name <noreply@example.com>".
	From string `json:"from"`
	// User name for AUTH PLAIN or LOGIN; placeholders are replaced.
	Username string `json:"username,omitempty"`
	// Password for AUTH; use a placeholder ({env.SMTP_PASSWORD},
	// {file./run/secrets/smtp}) rather than the literal.
	Password string `json:"password,omitempty"`
	// "implicit" (TLS from the start), "starttls" or "none" (a relay on
	// loopback only). Default: implicit on port 465, starttls otherwise.
	TLS string `json:"tls,omitempty"`
	// Subject line. Default: "Your sign-in code".
	Subject string `json:"subject,omitempty"`
	// Directory holding text.tmpl and/or html.tmpl to replace the
	// built-in message templates.
	Templates string `json:"templates,omitempty"`
	// Bound on the dial and on the whole conversation. Default: 15s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// config returns the smtpmail settings with placeholders replaced.
func (c *SMTPConfig) config() (smtpmail.Config, error) {
	repl := caddy.NewReplacer()
	user, err := repl.ReplaceOrErr(c.Username, true, true)
	if err != nil {
		return smtpmail.Config{}, fmt.Errorf("username: %v", err)
	}
	pass, err := repl.ReplaceOrErr(c.Password, true, true)
	if err != nil {
		return smtpmail.Config{}, fmt.Errorf("password: %v", err)
	}
	return smtpmail.Config{
		Addr: c.Addr, From: c.From, Username: user, Password: pass, TLS: c.TLS,
		Subject: c.Subject, TemplatesDir: c.Templates, Timeout: time.Duration(c.Timeout),
	}, nil
}

// parseEmailSMTP reads `smtp <host:port> { ... }` after `email`.
func parseEmailSMTP(d *caddyfile.Dispenser) (*SMTPConfig, error) {
	if !d.NextArg() {
		return nil, d.Errf("email smtp: the server's host:port is required")
	}
	c := &SMTPConfig{Addr: d.Val()}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		var err error
		switch opt {
		case "from":
			c.From, err = oneArg(d)
		case "username":
			c.Username, err = oneArg(d)
		case "password":
			c.Password, err = oneArg(d)
		case "tls":
			c.TLS, err = oneArg(d)
		case "subject":
			c.Subject, err = oneArg(d)
		case "templates":
			c.Templates, err = oneArg(d)
		case "timeout":
			c.Timeout, err = durationArg(d)
		default:
			return nil, d.Errf("unknown email smtp option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	// Check what can be checked without placeholders or files, so a
	// mistake names its line.
	check := smtpmail.Config{Addr: c.Addr, From: c.From, TLS: c.TLS, Subject: c.Subject, Username: "u", Password: "p"}
	if (c.Username == "") != (c.Password == "") {
		return nil, d.Errf("email smtp: username and password go together")
	}
	if err := check.Validate(); err != nil {
		return nil, d.Errf("email smtp: %v", err)
	}
	return c, nil
}
