package config

import (
	"fmt"
	"os"
	"strings"
	"time"

	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/smtpmail"
	"github.com/passgate/caddy-passgate/verify/tokens"
	"github.com/passgate/caddy-passgate/verify/webhook"
)

// SetDefaults fills in what the operator left out.
func (cfg *Config) SetDefaults() {
	if cfg.Store.Backend == "" {
		cfg.Store.Backend = "memory"
	}
	if cfg.Store.Prefix == "" {
		cfg.Store.Prefix = DefaultPrefix
	}
	if cfg.Store.Backend == "redis" && cfg.Store.Timeout == 0 {
		cfg.Store.Timeout = caddy.Duration(redisstore.DefaultTimeout)
	}
	if cfg.BasePath == "" {
		cfg.BasePath = DefaultBasePath
	}
	cfg.BasePath = "/" + strings.Trim(cfg.BasePath, "/")
	if cfg.Code.Length == 0 {
		cfg.Code.Length = verify.DefaultCodeLength
	}
	if cfg.Code.TTL == 0 {
		cfg.Code.TTL = caddy.Duration(verify.DefaultCodeTTL)
	}
	if cfg.Code.MaxAttempts == 0 {
		cfg.Code.MaxAttempts = verify.DefaultMaxAttempts
	}
	if cfg.Session.Idle == 0 {
		cfg.Session.Idle = caddy.Duration(verify.DefaultSessionIdle)
	}
	if cfg.Session.Lifetime == 0 {
		cfg.Session.Lifetime = caddy.Duration(verify.DefaultSessionLifetime)
	}
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = DefaultCookieName
	}
	if cfg.JWT == nil {
		cfg.JWT = new(JWTConfig)
	}
	if cfg.JWT.Issuer == "" {
		cfg.JWT.Issuer = DefaultJWTIssuer
	}
	if cfg.JWT.Audience == "" {
		cfg.JWT.Audience = DefaultJWTAudience
	}
	if cfg.JWT.AccessTTL == 0 {
		cfg.JWT.AccessTTL = caddy.Duration(tokens.DefaultAccessTTL)
	}
}

// Policy compiles allow and role into the engine's policy.
func (cfg *Config) Policy() (verify.Policy, error) {
	var pol verify.Policy
	var err error
	if pol.Allow, err = channelPatterns(cfg.Allow.Email, cfg.Allow.Phone); err != nil {
		return pol, fmt.Errorf("allow: %v", err)
	}
	for _, rc := range cfg.Roles {
		role := verify.Role{Name: rc.Name}
		if role.Patterns, err = channelPatterns(rc.Email, rc.Phone); err != nil {
			return pol, fmt.Errorf("role %s: %v", rc.Name, err)
		}
		pol.Roles = append(pol.Roles, role)
	}
	return pol, nil
}

// channelPatterns compiles email and phone globs.
func channelPatterns(email, phone []string) ([]verify.Pattern, error) {
	var out []verify.Pattern
	for _, ch := range []struct {
		name  string
		globs []string
	}{{verify.ChannelEmail, email}, {verify.ChannelPhone, phone}} {
		for _, g := range ch.globs {
			pat, err := verify.NewPattern(ch.name, g)
			if err != nil {
				return nil, err
			}
			out = append(out, pat)
		}
	}
	return out, nil
}

// Senders builds each configured channel's delivery, placeholders
// replaced; the log deliveries write to logger.
func (cfg *Config) Senders(logger *zap.Logger) (map[string]verify.Sender, error) {
	out := map[string]verify.Sender{}
	logSender := verify.LogSender{Logger: logger.Named("delivery")}
	if cfg.Email != nil {
		switch cfg.Email.Delivery {
		case "log":
			out[verify.ChannelEmail] = logSender
			logger.Warn("email codes are written to the log ('email log'): for development only")
		case "smtp":
			cfg, err := cfg.Email.SMTP.Resolve()
			if err != nil {
				return nil, fmt.Errorf("email smtp: %v", err)
			}
			if out[verify.ChannelEmail], err = smtpmail.New(cfg); err != nil {
				return nil, fmt.Errorf("email smtp: %v", err)
			}
		}
	}
	if cfg.SMS != nil {
		switch cfg.SMS.Delivery {
		case "log":
			out[verify.ChannelPhone] = logSender
			logger.Warn("SMS codes are written to the log ('sms log'): for development only")
		case "webhook":
			s, err := cfg.SMS.Sender()
			if err != nil {
				return nil, err
			}
			out[verify.ChannelPhone] = s
		}
	}
	return out, nil
}

// Sender builds the webhook delivery, placeholders replaced.
func (c *SMSConfig) Sender() (*webhook.Sender, error) {
	repl := caddy.NewReplacer()
	u, err := repl.ReplaceOrErr(c.URL, true, true)
	if err == nil {
		err = webhook.CheckURL(u)
	}
	if err != nil {
		return nil, fmt.Errorf("sms webhook URL: %v", err)
	}
	secret, err := repl.ReplaceOrErr(c.Secret, true, true)
	if err != nil {
		return nil, fmt.Errorf("sms webhook secret: %v", err)
	}
	if err := webhook.CheckSecret(secret); err != nil {
		return nil, err
	}
	retries := webhook.DefaultRetries
	if c.Retries != nil {
		retries = *c.Retries
	}
	timeout := time.Duration(c.Timeout)
	if timeout == 0 {
		timeout = webhook.DefaultTimeout
	}
	return &webhook.Sender{URL: u, Secret: []byte(secret), Timeout: timeout, Retries: retries}, nil
}

// PEMKeys reads the configured signing keys, placeholders replaced.
func (j *JWTConfig) PEMKeys() ([]tokens.Key, error) {
	var keys []tokens.Key
	repl := caddy.NewReplacer()
	for _, jk := range j.Keys {
		src, err := repl.ReplaceOrErr(jk.PEM, true, true)
		if err != nil {
			return nil, fmt.Errorf("jwt key %s: %v", jk.ID, err)
		}
		// A placeholder yields the PEM text; a literal is a file path.
		data := []byte(src)
		if !strings.Contains(jk.PEM, "{") {
			if data, err = os.ReadFile(src); err != nil {
				return nil, fmt.Errorf("jwt key %s: %v", jk.ID, err)
			}
		}
		k, err := tokens.ParsePEM(jk.ID, data)
		if err != nil {
			return nil, fmt.Errorf("jwt key %s: %v", jk.ID, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
