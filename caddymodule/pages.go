package caddymodule

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
)

//go:embed templates/login.html
var templateFS embed.FS

// States of the sign-in page.
const (
	stateEmail    = "email"     // asks for the address
	stateCode     = "code"      // asks for the code sent to it
	stateSignedIn = "signed_in" // offers to continue or sign out
)

type pageData struct {
	State      string
	BasePath   string
	Email      string
	AttemptID  string
	RedirectTo string
	Error      string
	Notice     string
}

type pages struct {
	basePath string
	tmpl     *template.Template
	// formAction lists allowed redirect origins for the CSP form-action
	// directive, which also governs where a form's answer may redirect.
	formAction string
}

func newPages(basePath string) (*pages, error) {
	t, err := template.ParseFS(templateFS, "templates/login.html")
	if err != nil {
		return nil, err
	}
	return &pages{basePath: basePath, tmpl: t}, nil
}

// render writes the sign-in page in the given state. The page loads
// nothing from elsewhere and may not be framed.
func (pg *pages) render(w http.ResponseWriter, status int, d pageData) {
	d.BasePath = pg.basePath
	var buf bytes.Buffer
	if err := pg.tmpl.Execute(&buf, d); err != nil {
		writeAPIError(w, newAPIError(http.StatusInternalServerError, errInternal, "could not render the page"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"+pg.formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
