package otpless

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

// discard sends nothing.
type discard struct{}

func (discard) Send(context.Context, verify.Message) error { return nil }

const testSecret = "fuzz-client-secret-0123456789-abcdef"

func testDoor(tb testing.TB) *Door {
	tb.Helper()
	store := memory.New(nil, 0)
	tb.Cleanup(func() { store.Close() })
	var allow []verify.Pattern
	for _, p := range [][2]string{{"email", "*"}, {"phone", "+*"}} {
		pat, err := verify.NewPattern(p[0], p[1])
		if err != nil {
			tb.Fatal(err)
		}
		allow = append(allow, pat)
	}
	e, err := verify.New(verify.Config{
		Store: store, Senders: map[string]verify.Sender{"email": discard{}, "phone": discard{}},
		Policy: verify.Policy{Allow: allow}, Limits: verify.DefaultLimits,
		Keys: [][]byte{[]byte("code key 0123456789abcdef0123456")}, RefreshKey: []byte("refresh key"),
	})
	if err != nil {
		tb.Fatal(err)
	}
	redirects, err := httpkit.NewRedirectPolicy([]string{"https://app.example.com"})
	if err != nil {
		tb.Fatal(err)
	}
	env := &httpkit.Env{Door: "otpless", Engine: e, Logger: zap.NewNop(), Mount: DefaultMount, Redirects: redirects,
		Keys:     func(string) [][]byte { return [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)} },
		Backends: httpkit.NewBackends(map[string]string{"shop": testSecret})}
	d, err := New(env)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// Whatever a backend sends to whichever route, the door answers without a
// panic and without a 5xx (the memory store never fails), in JSON with a
// message for every error, except the landing page and its redirect.
func FuzzRequests(f *testing.F) {
	d := testDoor(f)
	routes := []string{routeInitiateOTP, routeVerifyOTP, routeInitiateLink, routeVerifyCode, routeLink, "auth/v1/nope"}
	methods := []string{"POST", "GET", "HEAD", "PUT"}
	f.Add(uint8(0), uint8(0), "application/json", []byte(`{"phoneNumber":"+15551234567","channels":["SMS"],"expiry":60,"otpLength":6,"metadata":{}}`), true, "")
	f.Add(uint8(0), uint8(0), "application/json", []byte(`{"email":"a@x.com","channels":["EMAIL"],"expiry":30,"otpLength":4}`), true, "")
	f.Add(uint8(1), uint8(0), "application/json", []byte(`{"requestId":"AAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA","otp":"123456"}`), true, "")
	f.Add(uint8(2), uint8(0), "application/json", []byte(`{"redirectURI":"https://app.example.com/cb","email":"a@x.com","channels":["EMAIL"]}`), true, "")
	f.Add(uint8(3), uint8(0), "application/json", []byte(`{"code":"`+strings.Repeat("A", 43)+`"}`), true, "")
	f.Add(uint8(3), uint8(0), "application/json", []byte(`{"code":null}`), false, "")
	f.Add(uint8(4), uint8(1), "", []byte{}, false, "token=x")
	f.Add(uint8(4), uint8(0), "application/x-www-form-urlencoded", []byte("token=x&screenWidth=1e9&devicePixelRatio=NaN&platform=%00"), false, "")
	f.Fuzz(func(t *testing.T, route, method uint8, contentType string, body []byte, client bool, query string) {
		target := DefaultMount + "/" + routes[int(route)%len(routes)]
		if q, err := url.ParseQuery(query); err == nil && len(q) > 0 {
			target += "?" + q.Encode()
		}
		r := httptest.NewRequest(methods[int(method)%len(methods)], target, bytes.NewReader(body))
		r.Header.Set("Origin", "http://example.com")
		if contentType != "" && !strings.ContainsAny(contentType, "\r\n\x00") {
			r.Header.Set("Content-Type", contentType)
		}
		if client {
			r.Header.Set("clientId", "shop")
			r.Header.Set("clientSecret", testSecret)
		}
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		status := w.Code
		if status >= 500 {
			t.Fatalf("%s %s: %d %s", r.Method, target, status, w.Body)
		}
		ct := w.Header().Get("Content-Type")
		if strings.HasPrefix(ct, "text/html") || status/100 == 3 || r.Method == "HEAD" {
			return
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: %d %q (%s), not JSON", r.Method, target, status, w.Body, ct)
		}
		if msg, _ := answer["message"].(string); status >= 400 && msg == "" {
			t.Fatalf("%s %s: %d %s: no message", r.Method, target, status, w.Body)
		}
		if status == http.StatusOK && answer["requestId"] == nil {
			t.Fatalf("%s %s: 200 without a requestId: %s", r.Method, target, w.Body)
		}
	})
}

// Only a requestId the door made opens, and only for its client and
// kind.
func FuzzRequestID(f *testing.F) {
	d := testDoor(f)
	const attempt = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	good := d.requestID(attempt, "shop", kindOTP)
	if id, ok := d.openRequestID(good, "shop", kindOTP); !ok || id != attempt {
		f.Fatal("a made requestId does not open")
	}
	for _, s := range []string{good, "", ".", attempt, good + "A", strings.ToLower(good), d.requestID(attempt, "shop", kindLink)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, kind := range []string{kindOTP, kindLink} {
			if got, ok := d.openRequestID(id, "shop", kind); ok && (id != d.requestID(got, "shop", kind)) {
				t.Fatalf("%q opens as %q for %s", id, got, kind)
			}
			if _, ok := d.openRequestID(id, "blog", kind); ok && id == good {
				t.Fatal("the shop's requestId opens for blog")
			}
		}
	})
}

// What the landing page's form says of the device is kept only within
// bounds, and never made up.
func FuzzDevice(f *testing.F) {
	f.Add("Mozilla/5.0", "platform=Linux+x86_64&language=en-GB&screenWidth=1512&screenHeight=982&devicePixelRatio=2")
	f.Add("", "screenWidth=-1&devicePixelRatio=Inf&language=%FF")
	f.Fuzz(func(t *testing.T, ua, form string) {
		v, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		dev := readDevice(ua, v)
		if dev.ScreenWidth < 0 || dev.ScreenWidth > maxScreen || dev.ScreenHeight < 0 || dev.ScreenHeight > maxScreen ||
			dev.DevicePixelRatio != nil && (*dev.DevicePixelRatio <= 0 || *dev.DevicePixelRatio > maxPixelRatio) ||
			len(dev.Platform) > maxDeviceText || len(dev.Language) > maxDeviceText || len(dev.UserAgent) > maxUserAgent {
			t.Fatalf("out of bounds: %+v", dev)
		}
		if dev.Platform != "" && dev.Platform != v.Get("platform") || dev.UserAgent != "" && dev.UserAgent != ua {
			t.Fatalf("made up: %+v", dev)
		}
		if _, err := json.Marshal(dev); err != nil {
			t.Fatalf("%+v: %v", dev, err)
		}
	})
}
