package native

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
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
	// entirely; it gets the same data (see docs/configuration.md).
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

// CheckTitle, CheckLogo, CheckColour and CheckTemplate are the rules of
// the page options, for the Caddyfile parser (which names the line) and
// for resolved (which checks a JSON config).
func CheckTitle(s string) error {
	if strings.TrimSpace(s) == "" || len(s) > 100 {
		return errors.New("title: 1 to 100 characters")
	}
	return nil
}

// CheckTemplate checks that a page template file is there; it is parsed at
// provision.
func CheckTemplate(s string) error {
	if _, err := os.Stat(s); err != nil {
		return fmt.Errorf("template: %v", err)
	}
	return nil
}

// CheckColour: see CheckTitle.
func CheckColour(s string) error {
	if !hexColour.MatchString(s) && !nameColour.MatchString(s) {
		return fmt.Errorf("colour %q: use #rgb, #rrggbb or a CSS colour name", s)
	}
	return nil
}

// CheckLogo: see CheckTitle.
func CheckLogo(s string) error {
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

// resolved fills in the defaults and checks logo and colour, which makes
// them safe in a URL attribute and in a CSS declaration of every page.
func (pc PageConfig) resolved() (PageConfig, error) {
	if pc.Title == "" {
		pc.Title = "Sign in"
	}
	if pc.Color == "" {
		pc.Color = defaultAccent
	}
	var errs []error
	errs = append(errs, CheckTitle(pc.Title), CheckColour(pc.Color))
	if pc.Logo != "" {
		errs = append(errs, CheckLogo(pc.Logo))
	}
	if err := errors.Join(errs...); err != nil {
		return pc, fmt.Errorf("page %v", err)
	}
	return pc, nil
}
