package httpkit

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// DoorSpec is how the module configures and builds a compatibility front
// door (`compat <name> [<path>] { <options> }`). A door's package
// registers its spec in an init function, as Caddy modules do, so the
// module knows no door by name.
type DoorSpec struct {
	// Mount is the door's default path prefix.
	Mount string
	// Options reads the door's Caddyfile block (the dispenser is at its
	// first option) into the door's config, as JSON; nil: no options.
	Options func(d *caddyfile.Dispenser) (json.RawMessage, error)
	// Check checks the door's config and the mount it will have; its
	// errors are the operator's to read.
	Check func(config json.RawMessage, mount string) error
	// Build makes the door.
	Build func(env *Env, config json.RawMessage) (http.Handler, error)
}

var doors sync.Map // name -> DoorSpec

// RegisterDoor adds a compatibility door under name.
func RegisterDoor(name string, spec DoorSpec) {
	if _, dup := doors.LoadOrStore(name, spec); dup {
		panic("httpkit: two doors registered as " + name)
	}
}

// LookupDoor returns the door registered under name.
func LookupDoor(name string) (DoorSpec, bool) {
	v, ok := doors.Load(name)
	if !ok {
		return DoorSpec{}, false
	}
	return v.(DoorSpec), true
}

// DoorNames lists the registered doors, sorted.
func DoorNames() []string {
	var names []string
	doors.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
	slices.Sort(names)
	return names
}
