package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

func init() {
	caddy.RegisterModule(API{})
}

// API is the admin.api.passgate module: the /passgate/ routes of Caddy's
// admin endpoint.
//
//	GET    /passgate/users/<identifier>/sessions        the user and their live sessions
//	DELETE /passgate/users/<identifier>/sessions        end every session of theirs
//	POST   /passgate/users/<identifier>/sessions/end    the same, as a POST
//	POST   /passgate/users/<identifier>/block           block: no sign-in, every session ended
//	POST   /passgate/users/<identifier>/unblock         let them sign in again
//
// The identifier is an email address, a phone number in international
// form (+44…) or a user id, percent-encoded as a path segment. Each route
// takes ?store=<name> to address one store; without it, every store of the
// running passgate handlers.
type API struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (API) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.passgate",
		New: func() caddy.Module { return new(API) },
	}
}

// Provision takes the admin logger.
func (a *API) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	return nil
}

// Routes implements caddy.AdminRouter.
func (a *API) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/passgate/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// opTimeout bounds one operation across every store; each store call is
// bounded by its own timeout too.
const opTimeout = 10 * time.Second

// errorBody is every error answer: a code, a message for people, and
// what was done before the error in other stores, if anything.
type errorBody struct {
	Error   string   `json:"error"`
	Message string   `json:"message"`
	Stores  []result `json:"stores,omitempty"`
}

// result is what one store answered.
type result struct {
	Store    string      `json:"store"`
	User     *userJSON   `json:"user,omitempty"`
	Sessions *[]sessJSON `json:"sessions,omitempty"` // listed: [] for none
	// Ended is how many live sessions an end, or a block, ended.
	Ended *int `json:"ended,omitempty"`
}

type userJSON struct {
	ID           string    `json:"id"`
	Email        string    `json:"email,omitempty"`
	Phone        string    `json:"phone,omitempty"`
	Roles        []string  `json:"roles"`
	Blocked      bool      `json:"blocked"`
	CreatedAt    time.Time `json:"created_at"`
	LastSignInAt time.Time `json:"last_sign_in_at"`
}

type sessJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func toUser(u verify.User) *userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return &userJSON{ID: u.ID, Email: u.Email, Phone: u.Phone, Roles: roles, Blocked: u.Blocked,
		CreatedAt: u.CreatedAt.UTC(), LastSignInAt: u.LastSignInAt.UTC()}
}

// op is one operation on one store's user; it fills in r.
type op func(ctx context.Context, e *verify.Engine, u verify.User, r *result, caller verify.Caller) error

func (a *API) serve(w http.ResponseWriter, r *http.Request) error {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/passgate/"), "/")
	if len(parts) < 3 || parts[0] != "users" {
		a.fail(w, http.StatusNotFound, "not_found", "no such route: see GET /passgate/users/<identifier>/sessions", nil)
		return nil
	}
	identifier, err := url.PathUnescape(parts[1])
	if err != nil || identifier == "" {
		a.fail(w, http.StatusBadRequest, "invalid_identifier", "the identifier is not a valid path segment", nil)
		return nil
	}
	var (
		do    op
		allow string
	)
	switch route := strings.Join(parts[2:], "/"); {
	case route == "sessions" && r.Method == http.MethodGet:
		do = listSessions
	case route == "sessions" && r.Method == http.MethodDelete, route == "sessions/end" && r.Method == http.MethodPost:
		do = endSessions
	case route == "block" && r.Method == http.MethodPost:
		do = block
	case route == "unblock" && r.Method == http.MethodPost:
		do = unblock
	case route == "sessions":
		allow = "GET, DELETE"
	case route == "sessions/end", route == "block", route == "unblock":
		allow = "POST"
	default:
		a.fail(w, http.StatusNotFound, "not_found", "no such route: see GET /passgate/users/<identifier>/sessions", nil)
		return nil
	}
	if do == nil {
		w.Header().Set("Allow", allow)
		a.fail(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+allow, nil)
		return nil
	}
	store := r.URL.Query().Get("store")
	targets := stores(store)
	if len(targets) == 0 {
		msg := "no passgate handler is running"
		if store != "" {
			msg = "no passgate handler uses the store " + store
		}
		a.fail(w, http.StatusNotFound, "no_store", msg, nil)
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	caller := verify.Caller{Door: "admin", ClientIP: clientIP(r)}
	var out []result
	for _, en := range targets {
		u, err := en.engine.FindUser(ctx, identifier)
		switch {
		case errors.Is(err, verify.ErrInvalidIdentifier):
			a.fail(w, http.StatusBadRequest, "invalid_identifier",
				"give an email address, a phone number in international form (+44…) or a user id", nil)
			return nil
		case errors.Is(err, verify.ErrUserNotFound):
			continue
		case err != nil:
			a.storeFailed(w, en, err, out)
			return nil
		}
		res := result{Store: en.Store}
		if err := do(ctx, en.engine, u, &res, caller); err != nil {
			if errors.Is(err, verify.ErrUserNotFound) {
				continue // removed meanwhile
			}
			a.storeFailed(w, en, err, out)
			return nil
		}
		out = append(out, res)
	}
	if len(out) == 0 {
		a.fail(w, http.StatusNotFound, "user_not_found", "no user has that identifier", nil)
		return nil
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]any{"stores": out})
	return nil
}

func listSessions(ctx context.Context, e *verify.Engine, u verify.User, r *result, _ verify.Caller) error {
	live, err := e.Sessions(ctx, u.ID)
	if err != nil {
		return err
	}
	list := make([]sessJSON, 0, len(live))
	for _, s := range live {
		list = append(list, sessJSON{ID: s.ID, CreatedAt: s.CreatedAt.UTC(),
			LastSeenAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC()})
	}
	r.User, r.Sessions = toUser(u), &list
	return nil
}

func endSessions(ctx context.Context, e *verify.Engine, u verify.User, r *result, caller verify.Caller) error {
	n, err := e.EndSessions(ctx, u.ID, caller)
	if err != nil {
		return err
	}
	r.User, r.Ended = toUser(u), &n
	return nil
}

func block(ctx context.Context, e *verify.Engine, u verify.User, r *result, caller verify.Caller) error {
	n, err := e.Block(ctx, u.ID, caller)
	if err != nil {
		return err
	}
	u.Blocked = true
	r.User, r.Ended = toUser(u), &n
	return nil
}

func unblock(ctx context.Context, e *verify.Engine, u verify.User, r *result, caller verify.Caller) error {
	if err := e.Unblock(ctx, u.ID, caller); err != nil {
		return err
	}
	u.Blocked = false
	r.User = toUser(u)
	return nil
}

// storeFailed answers 503 for a store out of reach (or anything else a
// store call gave: never 500), with what the other stores did before it.
func (a *API) storeFailed(w http.ResponseWriter, en *Entry, err error, done []result) {
	if a.logger != nil {
		a.logger.Error("store unavailable", zap.String("store", en.Store), zap.Error(err))
	}
	w.Header().Set("Retry-After", "1")
	a.fail(w, http.StatusServiceUnavailable, "store_unavailable",
		"the store "+en.Store+" is unavailable; try again shortly", done)
}

func (a *API) fail(w http.ResponseWriter, status int, code, msg string, done []result) {
	httpkit.WriteJSON(w, status, errorBody{Error: code, Message: msg, Stores: done})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Interface guards
var (
	_ caddy.AdminRouter = (*API)(nil)
	_ caddy.Provisioner = (*API)(nil)
)
