package httpkit

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// MaxFormParts bounds the fields of a multipart body: a browser's FormData
// for a sign-in has a handful.
const MaxFormParts = 32

// ReadBodyOrMultipart is ReadBody for a door whose clients post a
// browser's FormData (multipart/form-data): the fields of such a body are
// parsed into r.PostForm, as an urlencoded form's are, and isForm is true.
// The same bounds of size and time hold; a part that is a file (it has a
// filename, or a content type other than text/plain), that has no field
// name, or that is not UTF-8 text, and more than MaxFormParts parts, are
// refused with 400. Nothing is written to disk. ReadBody itself keeps
// refusing multipart (415), so doors whose clients never send it are not
// affected.
func ReadBodyOrMultipart(w http.ResponseWriter, r *http.Request, dst any) (isForm bool, _ *BodyError) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		return ReadBody(w, r, dst)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return true, bodyErr(http.StatusBadRequest, "multipart body without a boundary")
	}
	bound(w, r)
	form, e := readMultipart(multipart.NewReader(r.Body, boundary))
	if e != nil {
		return true, e
	}
	r.PostForm = form
	return true, nil
}

func readMultipart(mr *multipart.Reader) (url.Values, *BodyError) {
	form := url.Values{}
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF { // the closing delimiter; a wrapped EOF is a body cut short
			return form, nil
		}
		if err != nil {
			return nil, readErr(err)
		}
		if n == MaxFormParts {
			return nil, bodyErr(http.StatusBadRequest, "too many fields in the multipart body")
		}
		name := p.FormName()
		if name == "" {
			return nil, bodyErr(http.StatusBadRequest, "a multipart part without a field name")
		}
		if _, hasFile := fileName(p); hasFile || !textPart(p) {
			return nil, bodyErr(http.StatusBadRequest, "files are not accepted: send text fields only")
		}
		value, err := io.ReadAll(p)
		if err != nil {
			return nil, readErr(err)
		}
		if !utf8.Valid(value) {
			return nil, bodyErr(http.StatusBadRequest, "a multipart field is not UTF-8 text")
		}
		form.Add(name, string(value))
	}
}

// fileName reports whether the part's Content-Disposition names a file,
// even an empty one (filename=""), which Part.FileName does not tell.
func fileName(p *multipart.Part) (string, bool) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", false
	}
	name, ok := params["filename"]
	if !ok {
		name, ok = params["filename*"]
	}
	return name, ok
}

// textPart reports whether a part is a text field: no content type (what
// a FormData string sends) or text/plain.
func textPart(p *multipart.Part) bool {
	ct := p.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/plain"
}
