// Package httpkit is what every front door shares on the HTTP side:
// reading request bodies under one set of rules, writing JSON, the
// same-origin check and the request's origin, the redirect policy, and the
// Env a door is given. It holds no sign-in logic: that is verify's.
package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// MaxBodyBytes bounds every request body a door reads.
const MaxBodyBytes = 16 << 10

// bodyReadTimeout bounds the time to read a body, so that a client
// sending a byte now and then cannot hold a request open.
var bodyReadTimeout atomic.Int64

func init() { bodyReadTimeout.Store(int64(10 * time.Second)) }

// SetBodyReadTimeout changes the bound on reading a body and returns what
// puts it back. Tests only.
func SetBodyReadTimeout(d time.Duration) (restore func()) {
	old := bodyReadTimeout.Swap(int64(d))
	return func() { bodyReadTimeout.Store(old) }
}

// BodyError is a body that cannot be read: its status (400, 408, 413,
// 415) and what to tell the client. Each door writes it in its own format.
type BodyError struct {
	Status  int
	Message string
}

func (e *BodyError) Error() string { return e.Message }

func bodyErr(status int, msg string) *BodyError { return &BodyError{Status: status, Message: msg} }

// ReadBody decodes a JSON body into dst, or reports that the body is a
// form (parsed into r.PostForm). An empty body with no content type counts
// as an empty JSON object, so that `POST /logout` needs none. Bodies are
// bounded in size and in time; JSON objects may not repeat a key, in any
// spelling encoding/json takes for the same.
func ReadBody(w http.ResponseWriter, r *http.Request, dst any) (isForm bool, _ *BodyError) {
	bound(w, r)
	ct := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	if ct != "" && err != nil {
		return false, bodyErr(http.StatusUnsupportedMediaType, "unreadable Content-Type")
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return true, readErr(err)
		}
		return true, nil
	case "application/json", "":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false, readErr(err)
		}
		if len(bytes.TrimSpace(body)) == 0 {
			if mediaType == "" {
				return false, nil
			}
			return false, bodyErr(http.StatusBadRequest, "empty JSON body")
		}
		if mediaType == "" {
			return false, bodyErr(http.StatusUnsupportedMediaType, "send Content-Type: application/json")
		}
		if checkJSONKeys(body) != nil {
			return false, bodyErr(http.StatusBadRequest, "a key appears twice in the JSON body (keys are compared without regard to case)")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(dst); err != nil {
			return false, bodyErr(http.StatusBadRequest, "malformed JSON body")
		}
		if dec.More() {
			return false, bodyErr(http.StatusBadRequest, "trailing data after the JSON body")
		}
		return false, nil
	default:
		return false, bodyErr(http.StatusUnsupportedMediaType, "send application/json or a form")
	}
}

// bound puts the bounds of size and time on reading r's body. Past the
// deadline, reading fails (408, see readErr). The server sets the
// connection's read deadline anew for the next request, so this one does
// not outlive it.
func bound(w http.ResponseWriter, r *http.Request) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Duration(bodyReadTimeout.Load())))
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
}

func readErr(err error) *BodyError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return bodyErr(http.StatusRequestEntityTooLarge, "request body too large")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return bodyErr(http.StatusRequestTimeout, "the request body took too long to arrive")
	}
	return bodyErr(http.StatusBadRequest, "unreadable request body")
}

// WriteJSON answers v as JSON with status, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal_error","message":"could not encode the answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// ReadJSON is ReadBody for routes that take JSON only: a form, which any
// page may post across sites, is 415.
func ReadJSON(w http.ResponseWriter, r *http.Request, dst any) *BodyError {
	isForm, err := ReadBody(w, r, dst)
	if err == nil && isForm {
		err = &BodyError{Status: http.StatusUnsupportedMediaType, Message: "send Content-Type: application/json"}
	}
	return err
}
