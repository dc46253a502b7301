package caddymodule

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify"
)

// The collectors live for the process, so that a config reload, which
// brings a new registry, keeps their counts: every Provision registers
// them with its config's registry, and a second passgate in the same
// config finds them there already.
var (
	eventsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "passgate", Name: "events_total",
		Help: "Sign-in events, by event, front door, channel and detail (a failure's reason, " +
			"the limit reached, a sign-out's scope, a sign-in's method, a delivery's sender, an access denial's roles).",
	}, []string{"event", "door", "channel", "detail"})
	gateTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "passgate", Name: "gate_requests_total",
		Help: "Requests to protected and public paths, by outcome: cookie, bearer, challenged, refused, " +
			"forbidden (signed in, lacking a role an access rule asks for), unavailable, public.",
	}, []string{"outcome"})
	storeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "passgate", Name: "store_operation_seconds",
		Help:    "Latency of store operations, by operation.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"operation"})
	deliverySeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "passgate", Name: "delivery_seconds",
		Help:    "Latency of code deliveries, by channel, sender and result (sent, failed).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"channel", "sender", "result"})
	sessionCacheEntries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "passgate", Name: "session_cache_entries",
		Help: "Sessions held in the Redis stores' in-process caches.",
	}, sessionCacheLen)
)

// gateMetrics are the gate's counters, resolved once: the gate counts
// every request, and a resolved counter costs an atomic add.
var gateMetrics = struct {
	cookie, bearer, challenged, refused, forbidden, unavailable, public prometheus.Counter
}{
	gateTotal.WithLabelValues("cookie"), gateTotal.WithLabelValues("bearer"),
	gateTotal.WithLabelValues("challenged"), gateTotal.WithLabelValues("refused"),
	gateTotal.WithLabelValues("forbidden"),
	gateTotal.WithLabelValues("unavailable"), gateTotal.WithLabelValues("public"),
}

func registerMetrics(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{eventsTotal, gateTotal, storeSeconds, deliverySeconds, sessionCacheEntries} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return err
		}
	}
	return nil
}

// metricsListener counts the engine's events.
type metricsListener struct{}

func (metricsListener) Event(ev verify.Event) {
	var detail string
	switch ev.Kind {
	case verify.EventSignInFailed:
		detail = ev.Reason
	case verify.EventRateLimited:
		detail = ev.Limit
	case verify.EventSignedOut:
		detail = string(ev.Scope)
	case verify.EventSignedIn:
		detail = ev.Method
	case verify.EventAccessDenied:
		// The rule's roles: a set the config bounds, unlike the path.
		detail = strings.Join(ev.Required, ",")
	case verify.EventCodeSent, verify.EventDeliveryFailed:
		detail = ev.Sender
		result := "sent"
		if ev.Kind == verify.EventDeliveryFailed {
			result = "failed"
		}
		deliverySeconds.WithLabelValues(ev.Channel, ev.Sender, result).Observe(ev.Duration.Seconds())
	}
	eventsTotal.WithLabelValues(string(ev.Kind), ev.Caller.Door, ev.Channel, detail).Inc()
}

// storeObservers are the store latency histogram's series, resolved once
// per operation as they come: a session lookup is timed on every request.
var storeObservers sync.Map // operation -> prometheus.Observer

// instrument times st's operations for the store latency histogram.
func instrument(st sessionstore.Store) sessionstore.Store {
	return sessionstore.Observed(st, func(op string, d time.Duration) {
		o, ok := storeObservers.Load(op)
		if !ok {
			o, _ = storeObservers.LoadOrStore(op, storeSeconds.WithLabelValues(op))
		}
		o.(prometheus.Observer).Observe(d.Seconds())
	})
}
