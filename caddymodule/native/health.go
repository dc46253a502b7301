package native

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// serveHealth is the readiness check for load balancers: 200 when the
// store answers a ping within its timeout, 503 otherwise. It needs no
// session and is left out of the access log, which a probe every second
// would fill; the engine's events record the changes instead.
func (d *Door) serveHealth(w http.ResponseWriter, r *http.Request) {
	caddyhttp.SetVar(r.Context(), caddyhttp.LogSkipVar, true)
	if err := d.env.Engine.Ready(r.Context(), d.env.Caller(r)); err != nil {
		w.Header().Set("Retry-After", "1")
		httpkit.WriteJSON(w, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Error: errStoreUnavailable})
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

type healthBody struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}
