package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
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

// ReadOptions reads a door's Caddyfile block: each option's arguments go to
// its reader; an unknown option, or a reader's error, names its line.
func ReadOptions(d *caddyfile.Dispenser, door string, readers map[string]func(args []string) error) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		read, ok := readers[option]
		if !ok {
			return d.Errf("unknown compat %s option %q", door, option)
		}
		if err := read(d.RemainingArgs()); errors.Is(err, ErrArgs) {
			return d.ArgErr()
		} else if err != nil {
			return d.Errf("compat %s %s: %v", door, option, err)
		}
	}
	return nil
}

// ErrArgs is an option given too few or too many arguments; ReadOptions
// says so as Caddy does.
var ErrArgs = errors.New("wrong argument count")

// OneArg is an option's single argument.
func OneArg(args []string, set *string) error {
	if len(args) != 1 {
		return ErrArgs
	}
	*set = args[0]
	return nil
}

// DecodeOptions reads a door's config from its JSON options (none: the
// zero config), refusing unknown fields.
func DecodeOptions(raw json.RawMessage, config any) error {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(config)
}

// Door is a door's spec with its options typed: RegisterDoorOf does the
// JSON between the Caddyfile, the module's config and the door.
type Door[C any] struct {
	// Mount is the door's default path prefix.
	Mount string
	// Options gives the reader of each option of the door's block, filling
	// c; nil: the door has no options.
	Options func(c *C) map[string]func(args []string) error
	// Check checks the options and the mount the door will have.
	Check func(c C, mount string) error
	// Build makes the door.
	Build func(env *Env, c C) (http.Handler, error)
}

// RegisterDoorOf registers a door whose options are a C; options left at
// their zero value are left out of the JSON.
func RegisterDoorOf[C any](name string, door Door[C]) {
	spec := DoorSpec{Mount: door.Mount}
	if door.Options != nil {
		spec.Options = func(d *caddyfile.Dispenser) (json.RawMessage, error) {
			var c C
			if err := ReadOptions(d, name, door.Options(&c)); err != nil {
				return nil, err
			}
			if reflect.ValueOf(&c).Elem().IsZero() {
				return nil, nil
			}
			return json.Marshal(c)
		}
	}
	spec.Check = func(raw json.RawMessage, mount string) error {
		var c C
		if err := DecodeOptions(raw, &c); err != nil {
			return err
		}
		if door.Check == nil {
			return nil
		}
		return door.Check(c, mount)
	}
	spec.Build = func(env *Env, raw json.RawMessage) (http.Handler, error) {
		var c C
		if err := DecodeOptions(raw, &c); err != nil {
			return nil, err
		}
		return door.Build(env, c)
	}
	RegisterDoor(name, spec)
}
