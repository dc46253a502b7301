package redis

import goredis "github.com/redis/go-redis/v9"

// Scripts are the store's Lua scripts by name, for the tests that check
// each and run each against a cluster.
func Scripts() map[string]*goredis.Script { return scripts }

// ScriptSource is a script's Lua text.
func ScriptSource(name string) string { return sources[name] }
