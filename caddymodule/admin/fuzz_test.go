package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

// Any method and path under /passgate/ gets a JSON answer with a status
// of the documented set, never a 500 or a panic.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"users/ann@example.com/sessions", "users/ann%40example.com/sessions/end", "users/%2B442079460958/block",
		"users//sessions", "users/%zz/sessions", "users/ann@example.com/unblock?store=memory%20passgate:", "users/x/y/z", "", "users"} {
		for _, m := range []string{"GET", "POST", "DELETE", "PUT"} {
			f.Add(m, s)
		}
	}
	e, err := verify.New(verify.Config{Store: memory.New(nil, 0), Keys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		RefreshKey: []byte("refresh key")})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := e.SignIn(context.Background(), verify.SignInRequest{
		Attempt: verify.Attempt{Channel: "email", Identifier: "ann@example.com"}, Method: verify.MethodCode}); err != nil {
		f.Fatal(err)
	}
	en := Register("fuzz", "memory passgate:", e)
	f.Cleanup(func() { Unregister(en) })
	a := &API{}
	f.Fuzz(func(t *testing.T, method, path string) {
		if strings.ContainsAny(method, " \t\r\n") || method == "" {
			return
		}
		req, err := http.NewRequest(method, "http://localhost/passgate/"+path, nil)
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		if err := a.serve(w, req); err != nil {
			t.Fatalf("%s %s: error %v", method, path, err)
		}
		switch w.Code {
		case 200, 400, 404, 405:
		default:
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: not JSON", method, path)
		}
	})
}
