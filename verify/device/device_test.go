package device_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/verify/device"
)

// User-Agents of real clients, and what a person should read for them.
var agents = []struct{ ua, name string }{
	{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"},
	{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on Windows"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on macOS"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iOS"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iOS"},
	{"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "Firefox on iOS"},
	{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
	{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
	{"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox on Android"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera on Windows"},
	{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome on Linux"},
	{"curl/8.11.0", "curl"},
	{"Go-http-client/1.1", "Go"},
	{"python-requests/2.32.3", "Python"},
	{"node", "Node.js"},
	{"undici", "Node.js"},
	{"okhttp/4.12.0", "OkHttp"},
	{"Mozilla/5.0 (Linux) Something/1.0", "Unknown browser on Linux"},
	{"", "Unknown device"},
	{"🙂", "Unknown device"},
}

func TestName(t *testing.T) {
	for _, a := range agents {
		if got := device.Name(device.Code(a.ua)); got != a.name {
			t.Errorf("%q: %q (code %q), want %q", a.ua, got, device.Code(a.ua), a.name)
		}
	}
	for _, code := range []string{"", "x", "zz", "fll", "\x00\x00", "--"} {
		if got := device.Name(code); got != "Unknown device" {
			t.Errorf("Name(%q) = %q, want Unknown device", code, got)
		}
	}
}

func TestCoarse(t *testing.T) {
	for _, tc := range []struct{ ip, coarse, network string }{
		{"203.0.113.77", "203.0.113", "203.0.113.0/24"},
		{"10.1.2.3", "10.1.2", "10.1.2.0/24"},
		{"0.0.0.0", "0.0.0", "0.0.0.0/24"},
		{"::ffff:198.51.100.9", "198.51.100", "198.51.100.0/24"},
		{"2001:db8:7:1::5", "2001:db8:7", "2001:db8:7::/48"},
		{"2001:0db8:0000:ffff::1", "2001:db8:0", "2001:db8::/48"},
		{"::1", "0:0:0", "::/48"},
		{"fe80::1%eth0", "fe80:0:0", "fe80::/48"},
		{"", "", ""},
		{"203.0.113", "", ""},
		{"203.0.113.1:443", "", ""},
		{"example.com", "", ""},
	} {
		c := device.Coarse(tc.ip)
		if c != tc.coarse {
			t.Errorf("Coarse(%q) = %q, want %q", tc.ip, c, tc.coarse)
		}
		if n := device.Network(c); n != tc.network {
			t.Errorf("Network(%q) = %q, want %q", c, n, tc.network)
		}
	}
	for _, bad := range []string{"1.2", "1.2.3.4", "256.0.0", "01.2.3", "a:b", "a:b:c:d", "::1:2", "1.2.3:4:5", "x.y.z", "g:0:0"} {
		if n := device.Network(bad); n != "" {
			t.Errorf("Network(%q) = %q, want nothing", bad, n)
		}
	}
}

// Any User-Agent gives "" or two code letters that Name knows how to say,
// and any address a network that holds it.
func FuzzCode(f *testing.F) {
	for _, a := range agents {
		f.Add(a.ua)
	}
	f.Add(strings.Repeat("Mozilla/5.0 ", 100) + "Firefox/1")
	f.Fuzz(func(t *testing.T, ua string) {
		c := device.Code(ua)
		if ua == "" && c != "" || ua != "" && len(c) != 2 {
			t.Fatalf("Code(%q) = %q", ua, c)
		}
		if n := device.Name(c); n == "" || strings.ContainsAny(n, ",\x00\n") {
			t.Fatalf("Name(%q) = %q", c, n)
		}
	})
}

func FuzzCoarse(f *testing.F) {
	for _, s := range []string{"203.0.113.77", "::ffff:1.2.3.4", "2001:db8::1", "fe80::1%eth0", "", "1.2.3", "::", "1:2:3:4:5:6:7:8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ip string) {
		c := device.Coarse(ip)
		if c == "" {
			if a, err := netip.ParseAddr(ip); err == nil {
				t.Fatalf("Coarse(%q) = nothing for the address %v", ip, a)
			}
			return
		}
		if strings.ContainsAny(c, ", ") || len(c) > 14 {
			t.Fatalf("Coarse(%q) = %q: not a short code", ip, c)
		}
		p, err := netip.ParsePrefix(device.Network(c))
		if err != nil {
			t.Fatalf("Network(Coarse(%q) = %q) = %q: %v", ip, c, device.Network(c), err)
		}
		a := netip.MustParseAddr(ip).Unmap().WithZone("")
		if !p.Contains(a) || p.Bits() != 24 && p.Bits() != 48 {
			t.Fatalf("%q is not in %v", ip, p)
		}
	})
}
