package config

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestCaddyfileEmailSMTPAndOrigins(t *testing.T) {
	p, err := parse(`passgate {
		email smtp smtp.example.com:587 {
			from "Example <noreply@example.com>"
			username mailer
			password {env.SMTP_PASSWORD}
			tls starttls
			subject "Ihr Anmeldecode"
			templates /etc/passgate/mail
			timeout 20s
		}
		redirect_origins https://app.example.com https://*.example.org
		redirect_origins http://localhost:3000
		link_origin https://auth.example.com
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := SMTPConfig{Addr: "smtp.example.com:587", From: "Example <noreply@example.com>", Username: "mailer",
		Password: "{env.SMTP_PASSWORD}", TLS: "starttls", Subject: "Ihr Anmeldecode", Templates: "/etc/passgate/mail",
		Timeout: caddy.Duration(20 * time.Second)}
	if p.Email == nil || p.Email.Delivery != "smtp" || p.Email.SMTP == nil || *p.Email.SMTP != want {
		t.Fatalf("email = %+v", p.Email)
	}
	if strings.Join(p.RedirectOrigins, " ") != "https://app.example.com https://*.example.org http://localhost:3000" {
		t.Fatalf("redirect_origins = %v", p.RedirectOrigins)
	}
	if p.LinkOrigin != "https://auth.example.com" {
		t.Fatalf("link_origin = %q", p.LinkOrigin)
	}
	// The password placeholder is replaced at provision, not before.
	t.Setenv("SMTP_PASSWORD", "from-the-env")
	cfg, err := p.Email.SMTP.Resolve()
	if err != nil || cfg.Password != "from-the-env" {
		t.Fatalf("config() = %+v, %v", cfg, err)
	}
}

func TestCaddyfileEmailSMTPErrorsNameTheLine(t *testing.T) {
	smtp := func(lines ...string) string {
		return "passgate {\n\temail smtp mail.example.com:465 {\n\t\t" + strings.Join(lines, "\n\t\t") + "\n\t}\n}"
	}
	wantParseErrors(t, []parseErrorCase{
		{"smtp without address", "passgate {\n\temail smtp\n}", 2, "host:port"},
		{"smtp bad address", "passgate {\n\temail smtp mail.example.com {\n\t\tfrom a@example.com\n\t}\n}", 4, "host:port"},
		{"smtp without from", smtp("tls implicit"), 4, "from"},
		{"smtp bad from", smtp("from not-an-address"), 4, "from"},
		{"smtp two froms", smtp("from a@example.com b@example.com"), 3, ""},
		{"smtp bad tls", smtp("from a@example.com", "tls ssl"), 5, "tls"},
		{"smtp unknown option", smtp("from a@example.com", "pool 3"), 4, "unknown email smtp option"},
		{"smtp user without password", smtp("from a@example.com", "username u"), 5, "go together"},
		{"smtp bad timeout", smtp("from a@example.com", "timeout soon"), 4, "bad duration"},
		{"email log with extra", "passgate {\n\temail log extra\n}", 2, ""},
		{"redirect origin with path", "passgate {\n\tredirect_origins https://app.example.com/x\n}", 2, "origin"},
		{"redirect origin javascript", "passgate {\n\tredirect_origins javascript://x\n}", 2, "scheme"},
		{"redirect origin bad wildcard", "passgate {\n\tredirect_origins https://*.com\n}", 2, "wildcard"},
		{"redirect origins empty", "passgate {\n\tredirect_origins\n}", 2, ""},
		{"link origin wildcard", "passgate {\n\tlink_origin https://*.example.com\n}", 2, "wildcard"},
		{"link origin path", "passgate {\n\tlink_origin https://a.example.com/auth\n}", 2, "origin"},
	})
}
