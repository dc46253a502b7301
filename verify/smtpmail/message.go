package smtpmail

import (
	"bytes"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

//go:embed templates/text.tmpl templates/html.tmpl
var defaultTemplates embed.FS

// TemplateData is what text.tmpl and html.tmpl are executed with.
type TemplateData struct {
	// Code is the one-time code.
	Code string
	// Link is the magic link; empty if there is none.
	Link string
	// To is the recipient's address.
	To string
	// ExpiresAt is when the code and link stop working.
	ExpiresAt time.Time
	// ValidFor says how long that is from now, in words ("10 minutes").
	ValidFor string
}

type templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// loadTemplates reads text.tmpl and html.tmpl from dir, falling back to
// the embedded default for a file that is not there.
func loadTemplates(dir string) (templates, error) {
	read := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("templates: %v", err)
			}
		}
		b, err := defaultTemplates.ReadFile("templates/" + name)
		return string(b), err
	}
	var t templates
	src, err := read("text.tmpl")
	if err != nil {
		return t, err
	}
	if t.text, err = texttemplate.New("text.tmpl").Option("missingkey=error").Parse(src); err != nil {
		return t, fmt.Errorf("templates: %v", err)
	}
	if src, err = read("html.tmpl"); err != nil {
		return t, err
	}
	if t.html, err = htmltemplate.New("html.tmpl").Option("missingkey=error").Parse(src); err != nil {
		return t, fmt.Errorf("templates: %v", err)
	}
	// Execute once now, so a template that fails on real data fails at
	// start and not at the first sign-in.
	_, _, err = t.render(TemplateData{Code: "123456", Link: "https://example.com/auth/magic?token=x",
		To: "a@example.com", ExpiresAt: time.Now().Add(10 * time.Minute), ValidFor: "10 minutes"})
	return t, err
}

func (t templates) render(d TemplateData) (text, html []byte, err error) {
	var tb, hb bytes.Buffer
	if err := t.text.Execute(&tb, d); err != nil {
		return nil, nil, fmt.Errorf("templates: text.tmpl: %v", err)
	}
	if err := t.html.Execute(&hb, d); err != nil {
		return nil, nil, fmt.Errorf("templates: html.tmpl: %v", err)
	}
	return tb.Bytes(), hb.Bytes(), nil
}

// validFor says d in words, rounded up to whole minutes.
func validFor(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// compose builds the whole message, headers and body, with CRLF line ends.
func (s *Sender) compose(m verify.Message, now time.Time) ([]byte, error) {
	if err := checkAddress(m.To); err != nil {
		return nil, err
	}
	text, html, err := s.tmpl.render(TemplateData{
		Code: m.Code, Link: m.Link, To: m.To, ExpiresAt: m.ExpiresAt, ValidFor: validFor(m.ExpiresAt.Sub(now)),
	})
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct {
		ctype   string
		content []byte
	}{{"text/plain; charset=utf-8", text}, {"text/html; charset=utf-8", html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, part.content); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	var msg bytes.Buffer
	header := func(name, value string) {
		msg.WriteString(name + ": " + value + "\r\n")
	}
	header("From", s.from.String())
	header("To", (&mail.Address{Address: m.To}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", s.cfg.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+rand.Text()+"@"+domainOf(s.from.Address)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	// Tells autoresponders not to answer (RFC 3834).
	header("Auto-Submitted", "auto-generated")
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}

func writeQP(w io.Writer, content []byte) error {
	qp := quotedprintable.NewWriter(w)
	// Normalise line ends so the encoder emits CRLF and nothing else.
	content = bytes.ReplaceAll(content, []byte("\r\n"), []byte("\n"))
	if _, err := qp.Write(content); err != nil {
		return err
	}
	return qp.Close()
}

func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
