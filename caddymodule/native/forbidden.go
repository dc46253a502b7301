package native

import (
	"crypto/rand"
	"embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

//go:embed templates/forbidden.html templates/style.html
var forbiddenFS embed.FS

// Forbidden answers a signed-in request that an access rule refuses: 403,
// as a page for a browser (with the sign-in page's look, offering to sign
// out and switch account) and as the JSON error for an API client.
type Forbidden struct {
	basePath string
	theme    PageConfig
	tmpl     *template.Template
}

// NewForbidden makes the answer, with the sign-in page's theme (a custom
// page template replaces the sign-in page only).
func NewForbidden(basePath string, theme PageConfig) (*Forbidden, error) {
	t, err := template.ParseFS(forbiddenFS, "templates/forbidden.html", "templates/style.html")
	if err != nil {
		return nil, err
	}
	site := theme.Title // the default title, "Sign in", would mislead here
	if theme, err = theme.resolved(); err != nil {
		return nil, err
	}
	theme.Title = site
	return &Forbidden{basePath: basePath, theme: theme, tmpl: t}, nil
}

type forbiddenData struct {
	BasePath, Title, Who, Nonce string
	Logo                        template.URL
	Accent                      template.CSS
}

// Serve writes the 403. A request with a bearer token, or that does not
// accept HTML, is an API client's: it gets the JSON error, which names no
// role (what a path needs is the operator's business).
func (f *Forbidden) Serve(w http.ResponseWriter, r *http.Request, s verify.Session, bearer bool) {
	if bearer || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeAPIError(w, newAPIError(http.StatusForbidden, errForbidden, "this account lacks the role this path requires"))
		return
	}
	who := s.Email
	if who == "" {
		who = s.Phone
	}
	d := forbiddenData{
		BasePath: f.basePath, Title: f.theme.Title, Who: who, Nonce: rand.Text(),
		// Checked by CheckLogo and CheckColour at provision.
		Logo: template.URL(f.theme.Logo), Accent: template.CSS(f.theme.Color),
	}
	writePage(w, http.StatusForbidden, f.tmpl, d, httpkit.PagePolicy{Nonce: d.Nonce, Images: true, Referrer: "same-origin"})
}
