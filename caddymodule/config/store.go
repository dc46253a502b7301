package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// RedisConfig is how the redis backend reaches Redis, with the TLS files
// read; files is their content, so a reload after a certificate's renewal
// makes a new client.
func (c StoreConfig) RedisConfig() (rc redisstore.Config, files []byte, err error) {
	rc = redisstore.Config{
		Mode:             c.Mode,
		URL:              c.URL,
		MasterName:       c.Master,
		Addrs:            c.Addrs,
		Username:         c.Username,
		Password:         c.Password,
		SentinelPassword: c.SentinelPassword,
		Timeout:          time.Duration(c.Timeout),
		Name:             "passgate",
	}
	t := c.TLS
	if t == nil {
		return rc, nil, nil
	}
	rc.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return rc, nil, fmt.Errorf("tls ca: %v", err)
		}
		rc.TLS.RootCAs = x509.NewCertPool()
		if !rc.TLS.RootCAs.AppendCertsFromPEM(pem) {
			return rc, nil, fmt.Errorf("tls ca %s: no PEM certificate in it", t.CA)
		}
		files = append(files, pem...)
	}
	if t.ClientCert != "" {
		certPEM, err := os.ReadFile(t.ClientCert)
		if err != nil {
			return rc, nil, fmt.Errorf("tls client_cert: %v", err)
		}
		keyPEM, err := os.ReadFile(t.ClientKey)
		if err != nil {
			return rc, nil, fmt.Errorf("tls client_cert key: %v", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return rc, nil, fmt.Errorf("tls client_cert %s, %s: %v", t.ClientCert, t.ClientKey, err)
		}
		rc.TLS.Certificates = []tls.Certificate{cert}
		files = append(append(files, certPEM...), keyPEM...)
	}
	return rc, files, nil
}

// validate holds every rule of the store settings, for the parser and for
// Validate (a JSON config). Values with placeholders are checked once
// replaced, at provision.
func (c StoreConfig) validate() error {
	switch c.Backend {
	case "", "memory":
		for _, o := range []struct {
			name string
			set  bool
		}{{"timeout", c.Timeout != 0}, {"username", c.Username != ""}, {"password", c.Password != ""},
			{"sentinel_password", c.SentinelPassword != ""}, {"tls", c.TLS != nil}} {
			if o.set {
				return errAt("store "+o.name, "store memory has no %s", o.name)
			}
		}
		if c.Mode != "" || c.URL != "" || c.Master != "" || len(c.Addrs) > 0 {
			return errAt("store", "store memory: only prefix may be set")
		}
		return nil
	case "redis":
	default:
		return errAt("store", "unknown store %q (want memory or redis)", c.Backend)
	}
	switch c.Mode {
	case "":
		if c.URL == "" {
			return errAt("store", "store redis: a URL is required (redis://host:6379/0), or sentinel or cluster")
		}
		if c.Master != "" || len(c.Addrs) > 0 {
			return errAt("store", "store redis with a URL: no master or addresses (those are for sentinel and cluster)")
		}
		if c.SentinelPassword != "" {
			return errAt("store sentinel_password", "store redis: sentinel_password is for store redis sentinel")
		}
		if literal(c.URL) {
			u, err := redis.ParseURL(c.URL)
			if err != nil {
				return errAt("store", "store redis %s: %s", RedactURL(c.URL), RedactErr(err, c.URL))
			}
			if c.Password != "" && u.Password != "" {
				return errAt("store password", "store redis: the password is in the URL and in the block; give it once")
			}
			if c.Username != "" && u.Username != "" {
				return errAt("store username", "store redis: the username is in the URL and in the block; give it once")
			}
			if c.TLS != nil && u.TLSConfig == nil {
				return errAt("store tls", "store redis: tls needs a rediss:// URL")
			}
		}
	case "sentinel":
		if c.URL != "" {
			return errAt("store", "store redis sentinel: no URL, the sentinels' addresses")
		}
		if c.Master == "" || hasSpace(c.Master) {
			return errAt("store", "store redis sentinel: want the master's name (as the sentinels monitor it), then the sentinels")
		}
		if len(c.Addrs) == 0 {
			return errAt("store", "store redis sentinel %s: want at least one sentinel's host:port", c.Master)
		}
	case "cluster":
		if c.URL != "" || c.Master != "" {
			return errAt("store", "store redis cluster: no URL or master name, the nodes' addresses")
		}
		if len(c.Addrs) == 0 {
			return errAt("store", "store redis cluster: want at least one node's host:port")
		}
		if c.SentinelPassword != "" {
			return errAt("store sentinel_password", "store redis cluster: sentinel_password is for store redis sentinel")
		}
	default:
		return errAt("store", "store redis: unknown mode %q (want sentinel or cluster, or a URL)", c.Mode)
	}
	for _, a := range c.Addrs {
		if !literal(a) {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return errAt("store", "store redis %s: address %q: want host:port", c.Mode, a)
		}
	}
	if t := c.TLS; t != nil && (t.ClientCert == "") != (t.ClientKey == "") {
		return errAt("store tls", "store redis tls: client_cert needs both the certificate and the key file")
	}
	return nil
}

func hasSpace(s string) bool { return strings.ContainsAny(s, " \t\r\n") }

// ReplacePlaceholders replaces {env.X} and {file.X} in every setting that
// may hold one; an unset one is an error, not an empty value that the
// Redis client would refuse with a message naming nothing.
func (c *StoreConfig) ReplacePlaceholders() error {
	type setting struct {
		what string
		v    *string
	}
	settings := []setting{{"url", &c.URL}, {"master", &c.Master}, {"username", &c.Username},
		{"password", &c.Password}, {"sentinel_password", &c.SentinelPassword}}
	c.Addrs = slices.Clone(c.Addrs)
	for i := range c.Addrs {
		settings = append(settings, setting{"address", &c.Addrs[i]})
	}
	if c.TLS != nil {
		t := *c.TLS
		c.TLS = &t
		settings = append(settings, setting{"tls ca", &t.CA}, setting{"tls server_name", &t.ServerName},
			setting{"tls client_cert", &t.ClientCert}, setting{"tls client_cert key", &t.ClientKey})
	}
	repl := caddy.NewReplacer()
	for _, s := range settings {
		v, err := repl.ReplaceOrErr(*s.v, true, true)
		if err != nil {
			return fmt.Errorf("store %s: %v", s.what, err)
		}
		*s.v = v
	}
	return c.validate()
}

// RedactURL hides the password of a store URL, for messages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// RedactErr is err with every copy of the raw URL, and of its password,
// replaced: URL parse errors quote their input.
func RedactErr(err error, raw string) string {
	msg := strings.ReplaceAll(err.Error(), raw, RedactURL(raw))
	if u, perr := url.Parse(raw); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	} else if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i {
		msg = strings.ReplaceAll(msg, raw[i+3:j], "xxxxx")
	}
	return msg
}
