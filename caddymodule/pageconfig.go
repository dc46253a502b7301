package caddymodule

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// PageConfig themes the sign-in page.
type PageConfig struct {
	// Text of the page title and heading above the form. Default: "Sign in".
	Title string `json:"title,omitempty"`
	// Logo shown above the form: a path on this site (`/static/logo.svg`,
	// which must then be public) or a `data:image/...;base64,` URL.
	Logo string `json:"logo,omitempty"`
	// Accent colour of buttons and links: `#rgb`, `#rrggbb` (with optional
	// alpha digits), or a CSS colour name. Default: #2d5bd7.
	Color string `json:"color,omitempty"`
	// File with a Go html/template that replaces the built-in page
	// entirely; it gets the same data (see README).
	Template string `json:"template,omitempty"`
}

const defaultAccent = "#2d5bd7"

// Colours are pasted into the page's CSS, so only forms that cannot close
// a declaration or a rule are allowed: hex or a bare name, nothing else.
var (
	hexColour  = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	nameColour = regexp.MustCompile(`^[a-zA-Z]{3,30}$`)
	dataLogo   = regexp.MustCompile(`^data:image/(?:png|gif|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$`)
	pathLogo   = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'*+,;=:@%/-]*$`)
)

func checkColour(s string) error {
	if !hexColour.MatchString(s) && !nameColour.MatchString(s) {
		return fmt.Errorf("colour %q: use #rgb, #rrggbb or a CSS colour name", s)
	}
	return nil
}

func checkLogo(s string) error {
	if strings.HasPrefix(s, "data:") {
		if !dataLogo.MatchString(s) {
			return fmt.Errorf("logo: a data URL must be data:image/<png|gif|jpeg|webp|svg+xml>;base64,<data>")
		}
		return nil
	}
	if !pathLogo.MatchString(s) || strings.HasPrefix(s, "//") {
		return fmt.Errorf("logo %q: must be a path on this site (/static/logo.svg) or a data:image URL", s)
	}
	return nil
}

// parsePage parses
//
//	page { title <t>; logo <path-or-data-url>; color <css-colour>; template <file> }
func (p *Passgate) parsePage(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var set func(v string) error
		switch d.Val() {
		case "title":
			set = func(v string) error {
				if strings.TrimSpace(v) == "" || len(v) > 100 {
					return errors.New("title: 1 to 100 characters")
				}
				p.Page.Title = v
				return nil
			}
		case "logo":
			set = func(v string) error {
				if err := checkLogo(v); err != nil {
					return err
				}
				p.Page.Logo = v
				return nil
			}
		case "color", "colour":
			if !d.NextArg() {
				// The usual mistake: an unquoted #hex is a comment.
				return d.Errf("page color: a value is required (quote hex colours, \"#2d5bd7\": # starts a comment)")
			}
			d.Prev()
			set = func(v string) error {
				if err := checkColour(v); err != nil {
					return err
				}
				p.Page.Color = v
				return nil
			}
		case "template":
			set = func(v string) error {
				if _, err := os.Stat(v); err != nil {
					return fmt.Errorf("template: %v", err)
				}
				p.Page.Template = v
				return nil
			}
		default:
			return d.Errf("unknown page option %q", d.Val())
		}
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		if err := set(v); err != nil {
			return d.Errf("page %v", err)
		}
	}
	return nil
}

// resolved fills in the defaults and checks logo and colour, which makes
// them safe in a URL attribute and in a CSS declaration of every page.
func (pc PageConfig) resolved() (PageConfig, error) {
	if pc.Title == "" {
		pc.Title = "Sign in"
	}
	if pc.Color == "" {
		pc.Color = defaultAccent
	}
	if err := checkColour(pc.Color); err != nil {
		return pc, fmt.Errorf("page %v", err)
	}
	if pc.Logo != "" {
		if err := checkLogo(pc.Logo); err != nil {
			return pc, fmt.Errorf("page %v", err)
		}
	}
	return pc, nil
}
