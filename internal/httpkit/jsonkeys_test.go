package httpkit

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// A JSON body with a key twice, or in two spellings that encoding/json
// takes for one, is refused: the last would win, and whoever reads the
// first (a log, a firewall) would see another address.
func TestJSONDuplicateKeysRefused(t *testing.T) {
	for _, body := range []string{
		`{"email":"a@example.com","email":"b@example.com"}`,
		`{"email":"a@example.com","EMAIL":"b@example.com"}`,
		`{"email":"a@example.com","Email":"b@example.com"}`,
		`{"redirect_to":"/a","redirect_TO":"/b","email":"a@example.com"}`,
		"{\"email\":\"a@example.com\",\"\\u0045mail\":\"b@example.com\"}", // escaped E
		"{\"tokens\":true,\"\u212aEYS\":1,\"keys\":2}",                    // Kelvin sign folds to k
		`{"email":"a@example.com","data":{"x":1,"X":2}}`,
		`{"email":"a@example.com","list":[{"x":1},{"y":1,"y":2}]}`,
	} {
		r := httptest.NewRequest("POST", "/auth/start", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req struct{ Email, RedirectTo string }
		_, apiErr := ReadBody(httptest.NewRecorder(), r, &req)
		if apiErr == nil || apiErr.Status != 400 {
			t.Errorf("%s: accepted (%+v, email %q)", body, apiErr, req.Email)
		}
	}
	for _, body := range []string{
		`{"email":"a@example.com","redirect_to":"/x"}`,
		`{"email":"a@example.com","data":{"email":1},"list":[{"x":1},{"x":2}]}`,
		`{"a":{"b":{"c":[1,{"d":2}],"d":3}},"email":"a@example.com"}`,
		`{}`,
	} {
		r := httptest.NewRequest("POST", "/auth/start", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req struct{ Email, RedirectTo string }
		if _, apiErr := ReadBody(httptest.NewRecorder(), r, &req); apiErr != nil {
			t.Errorf("%s: refused: %+v", body, apiErr)
		}
	}
}

// FuzzJSONKeys: checkJSONKeys never panics, and no JSON text it passes
// has, in any object, two different keys that encoding/json would take
// for one.
func FuzzJSONKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"a":{"b":1,"c":[{"d":1,"D":2}]}}`, `[{"x":1},{"x":1}]`, `{"k":1,"\u212a":2}`, `{"a":`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkJSONKeys([]byte(s))
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		if err != nil {
			return
		}
		// Every object in v must have had no key that folds onto another.
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				seen := map[string]string{}
				for k, x := range v {
					if other, ok := seen[foldKey(k)]; ok {
						t.Fatalf("%q: keys %q and %q fold together but were passed", s, k, other)
					}
					seen[foldKey(k)] = k
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(v)
	})
}
