package caddymodule_test

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// scrape reads Caddy's /metrics on the admin endpoint.
func scrape(t *testing.T, g *testenv.Gateway) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + g.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value is the value (a counter's, a gauge's, a histogram's count) of the
// series of family name with the given labels, 0 if there is none.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// After sign-ins, Caddy's /metrics shows passgate's series with the right
// counts (as differences: the counters live for the process), and again
// after a config reload, which keeps them.
func TestMetrics(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithAdmin())
	c := g.NewClient()
	before := scrape(t, g)
	ev := func(m map[string]*dto.MetricFamily, event, detail string) float64 {
		return value(m, "caddy_passgate_events_total", "event", event, "door", "native", "channel", "email", "detail", detail)
	}
	gate := func(m map[string]*dto.MetricFamily, outcome string) float64 {
		return value(m, "caddy_passgate_gate_requests_total", "outcome", outcome)
	}

	id := c.Start("mia@example.com")
	code := g.CodeFor("mia@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": wrong})
	if r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code}); r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	c.Do("GET", "/app", nil)
	c.Do("GET", "/app", nil)
	g.NewClient().Do("GET", "/app", nil)
	g.NewClient().Do("GET", "/public/x", nil)

	after := scrape(t, g)
	for _, w := range []struct {
		what string
		got  float64
		want float64
	}{
		{"sign-in started", ev(after, "sign-in started", "") - ev(before, "sign-in started", ""), 1},

		{"wrong code", ev(after, "sign-in failed", "wrong_code") - ev(before, "sign-in failed", "wrong_code"), 1},
		{"signed in", ev(after, "signed in", "code") - ev(before, "signed in", "code"), 1},
		{"gate: cookie", gate(after, "cookie") - gate(before, "cookie"), 2},
		{"gate: challenged", gate(after, "challenged") - gate(before, "challenged"), 1},
		{"gate: public", gate(after, "public") - gate(before, "public"), 1},
	} {
		if w.got != w.want {
			t.Errorf("%s: counted %v, want %v", w.what, w.got, w.want)
		}
	}
	// Deliveries end in the background, so an earlier test's may land in
	// this window too: at least this one's (which CodeFor waited for).
	if n := ev(after, "code sent", "log") - ev(before, "code sent", "log"); n < 1 {
		t.Errorf("code sent: counted %v, want at least 1", n)
	}
	if n := value(after, "caddy_passgate_delivery_seconds", "channel", "email", "sender", "log", "result", "sent") -
		value(before, "caddy_passgate_delivery_seconds", "channel", "email", "sender", "log", "result", "sent"); n < 1 {
		t.Errorf("delivery latency: %v more observations, want at least 1", n)
	}
	if n := value(after, "caddy_passgate_store_operation_seconds", "operation", "session") -
		value(before, "caddy_passgate_store_operation_seconds", "operation", "session"); n < 2 {
		t.Errorf("store latency of session reads: %v more observations, want at least 2", n)
	}
	if after["caddy_passgate_session_cache_entries"] == nil {
		t.Error("no session cache gauge")
	}
	for name, f := range after {
		if !strings.HasPrefix(name, "caddy_passgate_") {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if strings.Contains(l.GetValue(), "@") || strings.Contains(l.GetValue(), "127.0.0.1") {
					t.Errorf("%s has an unbounded label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}

	// A reload brings a new registry; the series and their counts stay.
	g.Load()
	reloaded := scrape(t, g)
	if got, want := ev(reloaded, "signed in", "code"), ev(after, "signed in", "code"); got != want {
		t.Fatalf("after a reload: signed in %v, want %v", got, want)
	}
	c.Do("GET", "/app", nil)
	if got := gate(scrape(t, g), "cookie") - gate(after, "cookie"); got != 1 {
		t.Fatalf("after a reload: %v more cookie requests counted, want 1", got)
	}
}
