package caddymodule

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/passgate/caddy-passgate/verify/smtpmail"
)

// safeRedirect applies the redirect policy: a same-site path or a URL on
// an allowed origin passes, anything else becomes "/".
func (p *Passgate) safeRedirect(target string) string {
	return p.redirects.safe(target)
}

// provisionLinks checks link_origin and loads the magic-link pages.
func (p *Passgate) provisionLinks() error {
	if p.LinkOrigin != "" {
		scheme, hostport, err := parseOrigin(p.LinkOrigin)
		if err != nil {
			return err
		}
		if strings.Contains(hostport, "*") {
			return errLinkOriginWildcard
		}
		p.LinkOrigin = scheme + "://" + hostport
	}
	var err error
	p.magicPages, err = newMagicPages(p.BasePath, p.redirects.formActionSources(), p.Page)
	return err
}

var errLinkOriginWildcard = errorString("link_origin: no wildcard (want https://host[:port])")

type errorString string

func (e errorString) Error() string { return string(e) }

// magicLinkBase is the absolute URL of the magic-link route for links
// sent in answer to r. Without link_origin it is the request's own origin:
// https if the request came over TLS, or over plain HTTP from a proxy
// Caddy trusts (`trusted_proxies`) that says X-Forwarded-Proto: https;
// http otherwise. The host is the request's Host, which Caddy has already
// matched against the site address.
func (p *Passgate) magicLinkBase(r *http.Request) string {
	origin := p.LinkOrigin
	if origin == "" && r.Host == "" {
		return "" // an HTTP/1.0 request without Host: no link, the code still works
	}
	if origin == "" {
		scheme := "http"
		if r.TLS != nil || forwardedHTTPS(r) {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
	}
	return origin + p.BasePath + "/magic"
}

func forwardedHTTPS(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !trusted {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// smtpSender builds the SMTP delivery, placeholders replaced.
func (p *Passgate) smtpSender() (*smtpmail.Sender, error) {
	if p.Email.SMTP == nil {
		return nil, errorString("settings missing")
	}
	cfg, err := p.Email.SMTP.config()
	if err != nil {
		return nil, err
	}
	return smtpmail.New(cfg)
}

func (p *Passgate) parseRedirectOrigins(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	if _, err := newRedirectPolicy(args); err != nil {
		return d.Errf("%v", err)
	}
	p.RedirectOrigins = append(p.RedirectOrigins, args...)
	return nil
}

func (p *Passgate) parseLinkOrigin(d *caddyfile.Dispenser) error {
	o, err := oneArg(d)
	if err != nil {
		return err
	}
	if _, hostport, err := parseOrigin(o); err != nil {
		return d.Errf("link_origin: %v", err)
	} else if strings.Contains(hostport, "*") {
		return d.Errf("%v", errLinkOriginWildcard)
	}
	p.LinkOrigin = o
	return nil
}
