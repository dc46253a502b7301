#!/usr/bin/env bash
# Developer entry points for passgate.
#
#   ./xcaddy.sh build      build ./caddy with the plugin from this working tree
#   ./xcaddy.sh run        build, then run Caddyfile.example (memory store, codes in the log)
#   ./xcaddy.sh test       vet and run the whole test suite (needs redis-server and chromium; see README)
#   ./xcaddy.sh validate F build, then `caddy validate` the Caddyfile F
#   ./xcaddy.sh fuzz [N]   run every fuzz target for N each (default 20000x; a count,
#                          since Go 1.26's -fuzztime 10s can fail spuriously, go.dev/issue/75804)
#   ./xcaddy.sh bench [R] [S]
#                          hot-path benchmark: R shuffled rounds of S seconds (default 45, 1;
#                          needs wrk, redis-server, redis-cli, curl); BENCH_INSTR=N counts
#                          the gateway's instructions over N requests instead (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")"

MODULE=github.com/passgate/caddy-passgate

caddy_version() { go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2; }

# xcaddy is a tool of this module (go.mod), at the version pinned there.
# The module proxy answers 403 for an unpublished module, so the plugin is
# pinned to this directory with the module=dir form.
build() {
	go tool xcaddy build "$(caddy_version)" \
		--with "${MODULE}@v0.0.0=${PWD}" --output ./caddy
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
build)
	build
	;;
run)
	build
	exec ./caddy run --config Caddyfile.example --adapter caddyfile "$@"
	;;
validate)
	build
	exec ./caddy validate --adapter caddyfile --config "${1:-Caddyfile.example}"
	;;
bench)
	exec ./internal/bench/bench.sh "$@"
	;;
test)
	if ! command -v redis-server >/dev/null; then
		echo "redis-server is missing: the tests start their own Redis servers. Install it (apt-get install redis-server)." >&2
		exit 1
	fi
	if ! command -v chromium >/dev/null; then
		echo "chromium is missing: the sign-in page tests drive it headless. Install it (apt-get install chromium)." >&2
		exit 1
	fi
	go vet ./...
	go test -race -count=1 -timeout 30m "$@" ./...
	;;
fuzz)
	# Every package's targets, as go test lists them: the names come
	# before the "ok <package>" line that closes each package's list.
	targets=$(go test -list '^Fuzz' ./... | awk '/^Fuzz/ { t[n++] = $1 } /^ok/ { for (i = 0; i < n; i++) print t[i], $2; n = 0 }')
	while read -r target pkg; do
		echo "--- $target ($pkg)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "${1:-20000x}" "$pkg"
	done <<<"$targets"
	;;
*)
	sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
