package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

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
