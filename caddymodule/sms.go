package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
)

// SMSConfig selects how codes are sent to phones.
type SMSConfig struct {
	// "log" (the code goes to Caddy's log; development only) or "webhook".
	Delivery string `json:"delivery"`
	// Endpoint the webhook delivery POSTs to (http or https).
	URL string `json:"url,omitempty"`
	// Shared secret that signs each webhook request; placeholders
	// ({env.X}, {file.X}) are replaced at provision. Required for webhook.
	Secret string `json:"secret,omitempty"`
	// Bound on one delivery, retries included. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Tries after the first, on network errors and 5xx. Default: 2.
	Retries *int `json:"retries,omitempty"`
}
