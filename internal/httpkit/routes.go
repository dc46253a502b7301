package httpkit

import "net/http"

// Route is one route of a door: its handler per method. A GET handler
// answers HEAD too.
type Route struct {
	Get, Post http.HandlerFunc
}

// Handler is the route's handler for method, or nil and the Allow header
// of a 405.
func (rt Route) Handler(method string) (h http.HandlerFunc, allow string) {
	switch {
	case rt.Get != nil && (method == http.MethodGet || method == http.MethodHead):
		return rt.Get, ""
	case rt.Post != nil && method == http.MethodPost:
		return rt.Post, ""
	case rt.Get != nil && rt.Post != nil:
		return nil, "GET, HEAD, POST"
	case rt.Get != nil:
		return nil, "GET, HEAD"
	default:
		return nil, "POST"
	}
}
