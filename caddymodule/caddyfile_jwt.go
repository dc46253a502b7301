package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseJWT reads the jwt block:
//
//	jwt {
//	    issuer     <iss>
//	    audience   <aud>
//	    access_ttl <duration>          # at most 1h
//	    key        <kid> <pem>         # path or {file.…}; repeat to rotate: first signs
//	}
func (p *Passgate) parseJWT(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	if p.JWT == nil {
		p.JWT = new(JWTConfig)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "issuer":
			p.JWT.Issuer, err = oneArg(d)
		case "audience":
			p.JWT.Audience, err = oneArg(d)
		case "access_ttl":
			p.JWT.AccessTTL, err = durationArg(d)
			if err == nil && time.Duration(p.JWT.AccessTTL) > MaxAccessTTL {
				return d.Errf("jwt access_ttl: at most %v", MaxAccessTTL)
			}
		case "key":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("jwt key: want <kid> <pem file or placeholder>")
			}
			if !validKid(args[0]) {
				return d.Errf("jwt key id %q: letters, digits, '.', '_' and '-' only", args[0])
			}
			for _, k := range p.JWT.Keys {
				if k.ID == args[0] {
					return d.Errf("jwt key id %q is used twice", args[0])
				}
			}
			p.JWT.Keys = append(p.JWT.Keys, JWTKey{ID: args[0], PEM: args[1]})
		default:
			return d.Errf("unknown jwt option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func validKid(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != "" && len(s) <= 64
}
