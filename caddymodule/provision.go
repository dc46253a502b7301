package caddymodule

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/caddymodule/access"
	"github.com/passgate/caddy-passgate/caddymodule/admin"
	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/caddymodule/native"
	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

func init() {
	caddy.RegisterModule(Passgate{})
}

// devSecrets holds the random secret of each memory store prefix
// configured without a secret.
var devSecrets sync.Map

// CaddyModule returns the Caddy module information.
func (Passgate) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.passgate",
		New: func() caddy.Module { return new(Passgate) },
	}
}

// Provision fills in defaults, derives keys, builds the engine and the
// front doors, and takes a reference to the store. It makes no network
// call, so `caddy validate` works offline.
func (p *Passgate) Provision(ctx caddy.Context) error {
	p.logger = ctx.Logger()
	p.SetDefaults()
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return err
	}

	keys, err := p.provisionSecrets()
	if err != nil {
		return err
	}
	policy, err := p.Config.Policy()
	if err != nil {
		return err
	}
	if len(policy.Allow) == 0 {
		p.logger.Warn("no 'allow' rule: nobody can sign in")
	}
	senders, err := p.Config.Senders(p.logger)
	if err != nil {
		return err
	}
	if p.testSenders != nil {
		senders = p.testSenders
	}
	p.public = caddyhttp.MatchPath(p.Public)
	if err := p.public.Provision(ctx); err != nil {
		return fmt.Errorf("public: %v", err)
	}
	rules := make([]access.Rule, len(p.Require))
	for i, rc := range p.Require {
		rules[i] = access.Rule{Roles: rc.Roles, Paths: rc.Paths}
	}
	if p.rules, err = access.New(ctx, rules); err != nil {
		return fmt.Errorf("require: %v", err)
	}
	if p.forbidden, err = native.NewForbidden(p.BasePath, p.Page); err != nil {
		return err
	}
	p.names = resolveHeaders(p.Headers)
	p.stripHeaders = make(map[string]struct{})
	for _, name := range slices.Concat(defaultStrip, p.Headers.Strip, []string{
		config.DefaultHeaderUserID, config.DefaultHeaderEmail, config.DefaultHeaderPhone, config.DefaultHeaderRoles,
		p.names.userID, p.names.email, p.names.phone, p.names.roles, p.Headers.Assertion,
	}) {
		if name != "" {
			p.stripHeaders[http.CanonicalHeaderKey(name)] = struct{}{}
		}
	}
	redirects, err := httpkit.NewRedirectPolicy(p.RedirectOrigins)
	if err != nil {
		return err
	}
	linkOrigin, err := config.NormalizeLinkOrigin(p.LinkOrigin)
	if err != nil {
		return err
	}
	cors, err := httpkit.NewCORS(p.CORS)
	if err != nil {
		return err
	}
	issuer, err := p.provisionTokens(keys)
	if err != nil {
		return err
	}
	clients, err := p.ClientSecrets()
	if err != nil {
		return err
	}

	// The store last but for what cannot fail, so that an error above
	// leaves nothing to release (Cleanup copes with one below).
	if err = p.Store.ReplacePlaceholders(); err != nil {
		return err
	}
	store, storeKey, err := loadStore(p.Store)
	if err != nil {
		return fmt.Errorf("store: %v", err)
	}
	p.storeKey = storeKey
	p.engine, err = verify.New(verify.Config{
		Store:           instrument(store),
		Limits:          p.Limits.Limits(),
		Policy:          policy,
		Senders:         senders,
		Keys:            keys.keys("code mac"),
		RefreshKey:      keys.keys("refresh successor")[0], // the first secret's, like every key that signs
		CodeLength:      p.Code.Length,
		CodeTTL:         time.Duration(p.Code.TTL),
		MaxAttempts:     p.Code.MaxAttempts,
		SessionIdle:     time.Duration(p.Session.Idle),
		SessionLifetime: time.Duration(p.Session.Lifetime),
		Tokens:          issuer,
		Listeners:       []verify.Listener{newAuditLog(p.logger), metricsListener{}},
		Now:             clock.Now,
	})
	if err != nil {
		return err
	}
	p.cookie = newSessionCookie(p.Cookie, time.Duration(p.Session.Lifetime), keys)
	env := &httpkit.Env{
		Door:         "native",
		Engine:       p.engine,
		Logger:       p.logger,
		Mount:        p.BasePath,
		Session:      p.cookie,
		NamedSession: p.cookie.named,
		Redirects:    redirects,
		LinkOrigin:   linkOrigin,
		Keys:         keys.keys,
		Insecure:     p.Cookie.Insecure,
		CORS:         cors,
		Backends:     httpkit.NewBackends(clients),
	}
	door, err := native.New(env, p.Page)
	if err != nil {
		return err
	}
	p.doors = []mountedDoor{{mount: p.BasePath, door: door}}
	for _, c := range p.Compat {
		spec, _ := httpkit.LookupDoor(c.Service) // checked by Validate
		denv := *env
		denv.Door, denv.Mount = c.Service, strings.TrimSuffix(cmp.Or(c.Path, spec.Mount), "/")
		door, err := spec.Build(&denv, c.Options)
		if err != nil {
			return fmt.Errorf("compat %s: %v", c.Service, err)
		}
		p.doors = append(p.doors, mountedDoor{mount: denv.Mount, door: door})
	}
	// The longest mount that a path is under wins: /auth/v1 is the
	// Supabase door's though /auth is the native one's.
	slices.SortFunc(p.doors, func(a, b mountedDoor) int { return len(b.mount) - len(a.mount) })
	// Last, once nothing can fail: Caddy's admin API reaches the engine.
	p.adminEntry = admin.Register(storeKey+"\x00"+p.Store.Prefix, p.Store.Backend+" "+p.Store.Prefix, p.engine)
	return nil
}

// provisionSecrets replaces placeholders in the secrets.
func (p *Passgate) provisionSecrets() (secretKeys, error) {
	secrets := make(secretKeys, 0, len(p.Secrets))
	repl := caddy.NewReplacer()
	for i, s := range p.Secrets {
		v, err := repl.ReplaceOrErr(s, true, true)
		if err == nil {
			err = config.CheckSecret(v)
		}
		if err != nil {
			return nil, fmt.Errorf("secret %d: %v", i+1, err)
		}
		secrets = append(secrets, v)
	}
	if len(secrets) == 0 {
		if p.Store.Backend != "memory" {
			return nil, errors.New("a secret is required with the " + p.Store.Backend +
				" store: add 'secret {env.PASSGATE_SECRET}' with at least 32 random bytes")
		}
		// One per store prefix for the life of the process, so that a
		// reload, which keeps the memory store, keeps sessions valid too.
		s, _ := devSecrets.LoadOrStore(p.Store.Prefix, rand.Text()+rand.Text())
		secrets = append(secrets, s.(string))
		p.logger.Warn("no secret configured: using a random one, so sessions end when Caddy exits")
	}
	return secrets, nil
}

// Validate checks that settings are within their rules and the security
// floor.
func (p *Passgate) Validate() error { return p.Config.Check() }

// Cleanup releases the store. It copes with a Provision that failed
// before taking it. Deliveries still in flight keep the store until they
// end (each within its sender's timeout), so none is lost to a reload or a
// stop; they are waited for in the background, so a reload does not wait.
func (p *Passgate) Cleanup() error {
	admin.Unregister(p.adminEntry)
	if p.engine == nil || p.engine.InFlight() == 0 {
		return releaseStore(p.storeKey)
	}
	go func() {
		p.engine.Wait()
		if err := releaseStore(p.storeKey); err != nil {
			p.logger.Error("releasing the store after the last deliveries", zap.Error(err))
		}
	}()
	return nil
}

// defaultStrip are identity headers other gateways and apps use (Apache's
// and oauth2-proxy's among them): an upstream may trust one of them, so no
// client may send it through passgate.
var defaultStrip = []string{
	"Remote-User", "X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Webauth-User",
}

// identityHeaders are the resolved names of the identity headers, "" for
// one turned off; resolved once, not on every request.
type identityHeaders struct{ userID, email, phone, roles string }

func resolveHeaders(h config.HeadersConfig) identityHeaders {
	return identityHeaders{
		userID: headerName(h.UserID, config.DefaultHeaderUserID),
		email:  headerName(h.Email, config.DefaultHeaderEmail),
		phone:  headerName(h.Phone, config.DefaultHeaderPhone),
		roles:  headerName(h.Roles, config.DefaultHeaderRoles),
	}
}

func headerName(set *string, def string) string {
	if set == nil {
		return def
	}
	return http.CanonicalHeaderKey(*set)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Passgate)(nil)
	_ caddy.Validator             = (*Passgate)(nil)
	_ caddy.CleanerUpper          = (*Passgate)(nil)
	_ caddyhttp.MiddlewareHandler = (*Passgate)(nil)
)
