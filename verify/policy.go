package verify

import (
	"fmt"
	"path"
	"strings"
)

// Pattern matches normalised identifiers of one channel with a shell glob
// (path.Match syntax: `*`, `?`, `[a-z]`), case-insensitively. Examples:
// `*@example.com`, `+4420*`.
type Pattern struct {
	Channel string
	Glob    string
}

// Match reports whether the identifier, already normalised, matches.
func (p Pattern) Match(channel, identifier string) bool {
	if channel != p.Channel {
		return false
	}
	ok, _ := path.Match(p.Glob, identifier)
	return ok
}

// NewPattern checks the glob and returns it lower-cased, as identifiers are.
func NewPattern(channel, glob string) (Pattern, error) {
	if channel != ChannelEmail && channel != ChannelPhone {
		return Pattern{}, fmt.Errorf("unknown channel %q (want email or phone)", channel)
	}
	glob = strings.ToLower(glob)
	if _, err := path.Match(glob, ""); err != nil {
		return Pattern{}, fmt.Errorf("bad pattern %q: %v", glob, err)
	}
	return Pattern{Channel: channel, Glob: glob}, nil
}

// Role gives a named role to the identifiers matching any of its patterns.
type Role struct {
	Name     string
	Patterns []Pattern
}

// Policy says who may sign in and with which roles.
type Policy struct {
	// Allow lists who may sign in; empty means nobody.
	Allow []Pattern
	Roles []Role
}

// Allowed reports whether identifier may sign in over channel.
func (p Policy) Allowed(channel, identifier string) bool {
	return matchAny(p.Allow, channel, identifier)
}

// RolesFor returns the names of the roles whose patterns match, in
// configuration order.
func (p Policy) RolesFor(channel, identifier string) []string {
	var names []string
	for _, r := range p.Roles {
		if matchAny(r.Patterns, channel, identifier) {
			names = append(names, r.Name)
		}
	}
	return names
}

func matchAny(ps []Pattern, channel, identifier string) bool {
	for _, p := range ps {
		if p.Match(channel, identifier) {
			return true
		}
	}
	return false
}
