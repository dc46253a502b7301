package otpless

import (
	"encoding/json"
	"net/http"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// compat otpless [<path>] (no options: the clients are the block's
// `client` entries, the redirect origins its `redirect_origins`).
func init() {
	httpkit.RegisterDoor("otpless", httpkit.DoorSpec{
		Mount: DefaultMount,
		Build: func(env *httpkit.Env, _ json.RawMessage) (http.Handler, error) { return New(env) },
	})
}
