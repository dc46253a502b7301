package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

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
		o, err := normalizeLinkOrigin(p.LinkOrigin)
		if err != nil {
			return err
		}
		p.LinkOrigin = o
	}
	var err error
	p.magicPages, err = newMagicPages(p.BasePath, p.redirects.formActionSources(), p.Page)
	return err
}

// normalizeLinkOrigin checks a link_origin and returns it as
// scheme://host[:port].
func normalizeLinkOrigin(o string) (string, error) {
	scheme, hostport, err := parseOrigin(o)
	if err != nil {
		return "", fmt.Errorf("link_origin: %v", err)
	}
	if strings.Contains(hostport, "*") {
		return "", errors.New("link_origin: no wildcard (want https://host[:port])")
	}
	return scheme + "://" + hostport, nil
}

// magicLinkBase is the absolute URL of the magic-link route for links
// sent in answer to r: on link_origin if set, otherwise on linkOrigin(r).
func (p *Passgate) magicLinkBase(r *http.Request) string {
	origin := p.LinkOrigin
	if origin == "" && r.Host == "" {
		return "" // an HTTP/1.0 request without Host: no link, the code still works
	}
	if origin == "" {
		origin = linkOrigin(r)
	}
	return origin + p.BasePath + "/magic"
}

// smtpSender builds the SMTP delivery, placeholders replaced.
func (p *Passgate) smtpSender() (*smtpmail.Sender, error) {
	if p.Email.SMTP == nil {
		return nil, errors.New("settings missing")
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
	if _, err := normalizeLinkOrigin(o); err != nil {
		return d.Errf("%v", err)
	}
	p.LinkOrigin = o
	return nil
}
