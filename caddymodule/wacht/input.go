package wacht

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// maxField bounds any one field, from the body or the query, that the door
// reads: an address, a code, an id, a redirect URL.
const maxField = 2048

// fields are a request's values, from its body (the client's FormData,
// an urlencoded form, or the documented JSON object) and its query string.
type fields struct {
	body, query url.Values
}

// readFields reads r's body, in whichever form the client sent it, and its
// query. A field given twice, a JSON value that is not a string or an
// integer, and an overlong or non-UTF-8 field are refused: what passgate
// reads must be what any other reader of the request reads.
func readFields(w http.ResponseWriter, r *http.Request) (fields, *apiError) {
	f := fields{body: url.Values{}}
	var raw map[string]json.RawMessage
	isForm, bodyErr := httpkit.ReadBodyOrMultipart(w, r, &raw)
	if bodyErr != nil {
		return f, bodyError(bodyErr)
	}
	if isForm {
		f.body = r.PostForm
	} else if e := jsonFields(raw, f.body); e != nil {
		return f, e
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return f, newError(http.StatusBadRequest, codeBadBody, "unreadable query string")
	}
	f.query = query
	for _, vs := range []url.Values{f.body, f.query} {
		for k, v := range vs {
			if len(v) > 1 {
				return f, newError(http.StatusBadRequest, codeBadBody, fmt.Sprintf("the field %q appears more than once", k))
			}
			if len(v[0]) > maxField || !utf8.ValidString(v[0]) {
				return f, newError(http.StatusBadRequest, codeBadBody, fmt.Sprintf("the field %q is too long or not text", k))
			}
		}
	}
	return f, nil
}

// jsonFields copies a JSON object's fields into out as text: strings as
// they are, integers as written (a doc reader may send an id or a code as
// a number), null as absent. ReadBody has already refused repeated keys.
func jsonFields(raw map[string]json.RawMessage, out url.Values) *apiError {
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case bytes.Equal(v, []byte("null")):
		case len(v) > 0 && v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) != nil {
				return newError(http.StatusBadRequest, codeBadBody, "malformed JSON body")
			}
			out.Set(k, s)
		case isInteger(v):
			out.Set(k, string(v))
		default:
			return newError(http.StatusBadRequest, codeBadBody, fmt.Sprintf("the field %q must be a string", k))
		}
	}
	return nil
}

func isInteger(v []byte) bool {
	if len(v) == 0 || len(v) > 32 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// get returns the first of names that the body has, else that the query
// has: the client puts attempt ids in the query, the docs in the body.
func (f fields) get(names ...string) string {
	for _, vs := range []url.Values{f.body, f.query} {
		for _, n := range names {
			if v := vs.Get(n); v != "" {
				return v
			}
		}
	}
	return ""
}
