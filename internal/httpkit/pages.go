package httpkit

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
)

// PagePolicy is what a page may run and where its form may post: it loads
// nothing from elsewhere, may not be framed or cached, and runs only the
// inline style (and script) that carry this response's nonce.
type PagePolicy struct {
	// Nonce allows the page's inline style, and its script when Script.
	Nonce  string
	Script bool
	// Images allows images from this origin and data: URLs.
	Images bool
	// FormAction is extra form-action sources after 'self'.
	FormAction string
	// Referrer is the Referrer-Policy; "no-referrer" when empty, as a page
	// with a token in its URL must never send that URL on.
	Referrer string
}

// WritePage renders tmpl with data and writes it with the headers of pp.
// It writes nothing when the template fails, so that the caller can answer
// the error in its own format.
func WritePage(w http.ResponseWriter, status int, tmpl *template.Template, data any, pp PagePolicy) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return err
	}
	scriptSrc, imgSrc := "", ""
	if pp.Script {
		scriptSrc = "script-src 'nonce-" + pp.Nonce + "'; "
	}
	if pp.Images {
		imgSrc = "img-src 'self' data:; "
	}
	referrer := pp.Referrer
	if referrer == "" {
		referrer = "no-referrer"
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; "+scriptSrc+"style-src 'nonce-"+pp.Nonce+"'; "+
		imgSrc+"form-action 'self'"+pp.FormAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", referrer)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// UserOpened reports whether the browser says the request is a navigation
// a person started from outside any site: a link opened from a mail
// program, a typed or pasted address, a bookmark. No page can make a
// browser send these two headers together, so only then may a link page
// press its own button.
func UserOpened(h http.Header) bool {
	return h.Get("Sec-Fetch-Site") == "none" && h.Get("Sec-Fetch-User") == "?1"
}

// LinkPage is what a door's magic-link page shows for a GET of the link:
// it consumes nothing (mail scanners open links), and asks before it posts
// Fields back to Action unless the person opened the link themselves.
type LinkPage struct {
	// Error, when set, is all the page shows.
	Error  string
	Email  string
	Action string
	Fields []Field
	// Auto lets the page's script press its button (see UserOpened).
	Auto  bool
	Nonce string
}

// Field is a hidden form field.
type Field struct{ Name, Value string }

var linkPage = template.Must(template.New("link").Parse(linkPageHTML))

// WriteLinkPage writes p with a fresh policy for its nonce; formAction is
// the extra form-action sources (the redirect origins the post may end at).
func WriteLinkPage(w http.ResponseWriter, status int, p LinkPage, formAction string) error {
	return WritePage(w, status, linkPage, p, PagePolicy{
		Nonce: p.Nonce, Script: p.Auto && p.Error == "", FormAction: formAction})
}

const linkPageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="robots" content="noindex">
<meta name="referrer" content="no-referrer">
<title>{{if .Error}}Sign-in link{{else if .Auto}}Signing you in{{else}}Sign in?{{end}}</title>
<style nonce="{{.Nonce}}">
body{font:16px/1.5 system-ui,sans-serif;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{max-width:26rem;padding:2rem}
h1{font-size:1.4rem;overflow-wrap:anywhere}
.muted{opacity:.75}
.error{border-left:4px solid #c62828;padding:.5rem .75rem}
button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.4rem;background:#2d5bd7;color:#fff;cursor:pointer}
</style>
</head>
<body>
<main aria-labelledby="heading">
{{if .Error}}
  <h1 id="heading">Sign-in link</h1>
  <div class="error" role="alert">{{.Error}}</div>
{{else}}
  {{if .Auto}}<h1 id="heading">Signing you in</h1>
  <p class="muted">Continue as <strong>{{.Email}}</strong>.</p>
  {{else}}<h1 id="heading">Sign in as {{.Email}}?</h1>
  <p class="muted">Only if you asked for this link yourself. A link that someone else sent you would sign you in to their account: then close this page.</p>
  {{end}}<form id="continue" method="post" action="{{.Action}}">
    {{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
    {{end}}<button type="submit">Sign in</button>
  </form>
  {{if .Auto}}<script nonce="{{.Nonce}}">document.getElementById("continue").submit();</script>{{end}}
{{end}}
</main>
</body>
</html>
`
