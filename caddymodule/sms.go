package caddymodule

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/verify"
)

// minWebhookSecretLen is the shortest webhook secret accepted: 128 bits
// of a random string, the usual floor of signing secrets.
const minWebhookSecretLen = 16

// SMSConfig selects how codes are sent to phones.
type SMSConfig struct {
	// "log" (the code goes to Caddy's log; development only) or "webhook".
	Delivery string `json:"delivery"`
	// Endpoint the webhook delivery POSTs to (http or https).
	URL string `json:"url,omitempty"`
	// Shared secret that signs each webhook request; placeholders
	// ({env.X}, {file.X}) are replaced at provision. Required for webhook.
	Secret string `json:"secret,omitempty"`
	// Bound on one delivery, retries included. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Tries after the first, on network errors and 5xx. Default: 2.
	Retries *int `json:"retries,omitempty"`
}

// parseSMS parses
//
//	sms log
//	sms webhook <url> { secret <s>; timeout <duration>; retries <n> }
func (p *Passgate) parseSMS(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	c := &SMSConfig{Delivery: d.Val()}
	switch c.Delivery {
	case "log":
		if d.NextArg() {
			return d.ArgErr()
		}
		if d.NextBlock(d.Nesting()) {
			return d.Errf("sms log takes no options")
		}
	case "webhook":
		if !d.NextArg() {
			return d.Errf("sms webhook: a URL is required")
		}
		c.URL = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		if !strings.Contains(c.URL, "{") {
			if err := checkWebhookURL(c.URL); err != nil {
				return d.Errf("sms webhook: %v", err)
			}
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch d.Val() {
			case "secret":
				s, err := oneArg(d)
				if err != nil {
					return err
				}
				if !strings.Contains(s, "{") && len(s) < minWebhookSecretLen {
					return d.Errf("sms webhook secret is %d bytes; at least %d are needed", len(s), minWebhookSecretLen)
				}
				c.Secret = s
			case "timeout":
				dur, err := durationArg(d)
				if err != nil {
					return err
				}
				c.Timeout = dur
			case "retries":
				n, err := intArg(d, "sms webhook retries", 0, 10)
				if err != nil {
					return err
				}
				c.Retries = &n
			default:
				return d.Errf("unknown sms webhook option %q", d.Val())
			}
		}
		if c.Secret == "" {
			return d.Errf("sms webhook: a secret is required (secret {env.PASSGATE_SMS_SECRET})")
		}
	default:
		return d.Errf("sms: unknown delivery %q (want log or webhook)", c.Delivery)
	}
	p.SMS = c
	return nil
}

func checkWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q: must be http:// or https:// with a host", s)
	}
	return nil
}

// smsSender builds the phone channel's sender, replacing placeholders.
func (p *Passgate) smsSender() (verify.Sender, error) {
	c := p.SMS
	switch c.Delivery {
	case "log":
		p.logger.Warn("SMS codes are written to the log ('sms log'): for development only")
		return verify.LogSender{Logger: p.logger.Named("delivery")}, nil
	case "webhook":
		repl := caddy.NewReplacer()
		u, err := repl.ReplaceOrErr(c.URL, true, true)
		if err != nil {
			return nil, fmt.Errorf("sms webhook URL: %v", err)
		}
		if err := checkWebhookURL(u); err != nil {
			return nil, fmt.Errorf("sms webhook: %v", err)
		}
		secret, err := repl.ReplaceOrErr(c.Secret, true, true)
		if err != nil {
			return nil, fmt.Errorf("sms webhook secret: %v", err)
		}
		if len(secret) < minWebhookSecretLen {
			return nil, fmt.Errorf("sms webhook secret is %d bytes; at least %d are needed", len(secret), minWebhookSecretLen)
		}
		retries := verify.DefaultWebhookRetries
		if c.Retries != nil {
			retries = *c.Retries
		}
		timeout := time.Duration(c.Timeout)
		if timeout == 0 {
			timeout = verify.DefaultWebhookTimeout
		}
		return &verify.WebhookSender{URL: u, Secret: []byte(secret), Timeout: timeout, Retries: retries}, nil
	default:
		return nil, fmt.Errorf("sms: unknown delivery %q (want log or webhook)", c.Delivery)
	}
}
