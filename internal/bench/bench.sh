#!/usr/bin/env bash
# The hot-path benchmark: plain reverse_proxy against passgate with a cookie
# session and with a bearer token, in shuffled rounds, on this machine.
#
#   ./xcaddy.sh bench [rounds] [seconds per run]     (defaults: 45 rounds, 1 s)
#   BENCH_INSTR=5000 ./xcaddy.sh bench [rounds]      (instructions per request
#                                                     under callgrind; 5 rounds)
#
# It builds Caddy with the plugin (go build of internal/testenv/caddybin,
# the same as xcaddy), starts a private redis-server, an upstream and the
# gateway, all on 127.0.0.1 ports it picks, signs in once through the log
# delivery, then runs wrk (32 connections) against each target, after an
# unrecorded warm-up run of each, in a new random order each round, and
# last measures Redis memory per session (internal/bench/sessionmem).
# Everything it starts is stopped on exit; it installs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Many short rounds rather than a few long ones: on a shared machine one
# round's ratio to plain moves by 10-15 % whether its runs last 1 s or 3 s,
# so for the same time, three times as many 1 s rounds narrow the median
# about 1.7 times as much. The summary gives each median ratio with its
# 95 % confidence interval, so a run says how far it can be trusted.
# BENCH_INSTR=N counts instructions instead of timing: the gateway runs
# under valgrind's callgrind, and each run is N requests (fixedload). The
# gateway's instructions per request do not depend on what else the
# machine does (what still varies, by about 2 %, is where Go's garbage
# collections fall), and callgrind says which function ran each one.
# Slow (valgrind); no req/s or latency.
INSTR=${BENCH_INSTR:-}
if [ -n "$INSTR" ] && ! [ "$INSTR" -ge 4 ] 2>/dev/null; then
	echo "BENCH_INSTR must be a number of requests per run, at least 4 (fixedload's connections), e.g. 5000" >&2
	exit 1
fi
ROUNDS=${1:-$([ -n "$INSTR" ] && echo 5 || echo 45)}
SECS=${2:-1}
# BENCH_TARGETS adds targets that tell where the cost goes: plain+c and
# plain+b (plain reverse_proxy sent the same cookie or token, which it
# forwards), bearer-nh (the bearer token on a passgate that passes no
# identity headers), public (a public path through passgate), floor
# (plain reverse_proxy sent the token, which header_up removes while it
# sets three identity headers of the same sizes: the header work any
# gateway in Caddy must do, with no authentication at all), and plain2,
# the plain target again: a control whose ratio should read 1.
read -r -a targets <<<"${BENCH_TARGETS:-plain cookie bearer}"
[ "${targets[0]:-}" = plain ] || { echo "BENCH_TARGETS must start with plain, the base of every ratio" >&2; exit 1; }
for t in "${targets[@]}"; do
	case $t in
	plain | plain2 | cookie | bearer | plain+c | plain+b | bearer-nh | public | floor) ;;
	*) echo "unknown target $t (known: plain plain2 cookie bearer plain+c plain+b bearer-nh public floor)" >&2; exit 1 ;;
	esac
done
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}

missing=()
for c in go redis-server redis-cli curl $([ -n "$INSTR" ] && echo valgrind callgrind_control || echo wrk); do
	command -v "$c" >/dev/null || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "missing: ${missing[*]}" >&2
	echo "On Debian/Ubuntu: apt-get install wrk valgrind redis-server redis-tools curl (and Go from go.dev)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/passgate-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}
wait_port() {
	for _ in $(seq 1 1200); do # 2 min: a gateway under valgrind starts slowly
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	for f in "$work"/*.log; do echo "== $f"; tail -n 5 "$f"; done >&2
	exit 1
}

echo "--- building caddy with passgate"
go build -o "$work/caddy" ./internal/testenv/caddybin
[ -n "$INSTR" ] && go build -o "$work/fixedload" ./internal/bench/fixedload

REDIS=$(free_port)
UP=$(free_port)
PLAIN=$(free_port)
GATE=$(free_port)
GATE2=$(free_port)
FLOOR=$(free_port)
ADMIN=$(free_port)
UPADMIN=$(free_port)

redis-server --bind 127.0.0.1 --port "$REDIS" --save "" --appendonly no \
	--dir "$work" --logfile "$work/redis.log" &
pids+=($!)
redis_pid=$!

cat >"$work/Upstream" <<CADDY
{
	admin 127.0.0.1:$UPADMIN
	auto_https off
	log {
		level ERROR
	}
}
http://127.0.0.1:$UP {
	bind 127.0.0.1
	respond "hello from the upstream" 200
}
CADDY
"$work/caddy" run --adapter caddyfile --config "$work/Upstream" 2>"$work/upstream.log" &
pids+=($!)
upstream_pid=$!

cat >"$work/Caddyfile" <<CADDY
{
	admin 127.0.0.1:$ADMIN
	auto_https off
	log {
		output file $work/gateway.log
	}
}
# The second gateway is the first (one snippet, so the two cannot drift
# apart) without identity headers and with a public path: the controls
# bearer-nh and public.
(gate) {
	secret bench-secret-0123456789abcdefghijklmnopqrstuvwxyz
	store redis redis://127.0.0.1:$REDIS/0
	email log
	allow email *@example.com
	role admin email bench@example.com
	cookie {
		insecure
	}
}
http://127.0.0.1:$PLAIN {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$UP
}
http://127.0.0.1:$FLOOR {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$UP {
		header_up -Authorization
		header_up X-Auth-User-Id 00000000-0000-4000-8000-000000000000
		header_up X-Auth-Email bench@example.com
		header_up X-Auth-Roles admin
	}
}
http://127.0.0.1:$GATE {
	bind 127.0.0.1
	passgate {
		import gate
	}
	reverse_proxy 127.0.0.1:$UP
}
http://127.0.0.1:$GATE2 {
	bind 127.0.0.1
	passgate {
		import gate
		public /public
		headers {
			user_id ""
			email ""
			roles ""
		}
	}
	reverse_proxy 127.0.0.1:$UP
}
CADDY
# Under callgrind, Go's asynchronous preemption is off: its signals come
# at valgrind's pace and would only add instructions of their own.
if [ -n "$INSTR" ]; then
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.%p" \
		--dump-line=no --log-file="$work/valgrind.log" \
		"$work/caddy" run --adapter caddyfile --config "$work/Caddyfile" 2>"$work/caddy.log" &
else
	"$work/caddy" run --adapter caddyfile --config "$work/Caddyfile" 2>"$work/caddy.log" &
fi
pids+=($!)
gateway_pid=$!

wait_port "$REDIS"
wait_port "$UP"
wait_port "$PLAIN"
wait_port "$GATE"
wait_port "$GATE2"
wait_port "$FLOOR"

echo "--- signing in once (log delivery)"
base="http://127.0.0.1:$GATE"
attempt=$(curl -fsS -H 'Content-Type: application/json' -d '{"email":"bench@example.com"}' "$base/auth/start" |
	sed -n 's/.*"attempt_id":"\([^"]*\)".*/\1/p')
code=""
for _ in $(seq 1 50); do
	code=$(sed -n 's/.*"code":"\([0-9]*\)".*/\1/p' "$work/gateway.log" "$work/caddy.log" 2>/dev/null | tail -1)
	[ -n "$code" ] && break
	sleep 0.1
done
resp=$(curl -fsS -c "$work/jar" -H 'Content-Type: application/json' \
	-d "{\"attempt_id\":\"$attempt\",\"code\":\"$code\",\"tokens\":true}" "$base/auth/verify")
token=$(printf '%s' "$resp" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
cookie=$(awk '$6 == "passgate_session" { print $6 "=" $7 }' "$work/jar")
if [ -z "$token" ] || [ -z "$cookie" ]; then
	echo "sign-in failed: $resp" >&2
	exit 1
fi
# Each target must answer 200 from the upstream before it is measured.
for args in "http://127.0.0.1:$PLAIN/" "-H Cookie:$cookie $base/" "-H Authorization:Bearer\ $token $base/" \
	"-H Authorization:Bearer\ $token http://127.0.0.1:$GATE2/" "http://127.0.0.1:$GATE2/public" \
	"-H Authorization:Bearer\ $token http://127.0.0.1:$FLOOR/"; do
	st=$(eval curl -s -o /dev/null -w '%{http_code}' $args)
	[ "$st" = 200 ] || { echo "warm-up $args: HTTP $st" >&2; exit 1; }
done

# CPU time (user + system, in clock ticks) a process has used so far; the
# gateway also serves plain, which is what lets the two be compared.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU time of this shell's finished children (wrk), in clock ticks, into
# $child (`times` must run in this shell, not in a $(...) subshell).
child_ticks() {
	times >"$work/times"
	child=$(awk -v hz="$HZ" 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * hz }' "$work/times")
}
HZ=$(getconf CLK_TCK)
# Allocations (count, then bytes) the gateway has made so far, from Go's
# memstats on Caddy's admin endpoint: unlike time, they do not depend on
# how busy the machine is, so they show passgate's own work per request.
mallocs() {
	local vars
	vars=$(curl -s "http://127.0.0.1:$ADMIN/debug/vars")
	# The first of each: memstats' own, before its per-size classes.
	echo "$(grep -o '"Mallocs":[0-9]*' <<<"$vars" | head -n 1 | cut -d: -f2)" \
		"$(grep -o '"TotalAlloc":[0-9]*' <<<"$vars" | head -n 1 | cut -d: -f2)"
}

# run NAME ROUND wrk-args...: one wrk run, one result line, with the CPU
# time per request each process spent (microseconds): these hold still on
# a busy machine where req/s does not.
run() {
	local name=$1 round=$2
	shift 2
	if [ -n "$INSTR" ]; then
		run_instr "$name" "$round" "$@"
		return
	fi
	if [ "$round" = 0 ]; then
		wrk -t"$THREADS" -c"$CONNS" -d"${BENCH_WARMUP:-2}s" "$@" >/dev/null
		return
	fi
	local out prof=""
	# BENCH_PPROF=dir: CPU profile of the gateway during round 1's runs,
	# one second shorter than a run (so it ends within it), at least one:
	# pprof reads seconds=0 as 30. Profiles want longer runs (bench 1 12).
	if [ -n "${BENCH_PPROF:-}" ] && [ "$round" = 1 ]; then
		mkdir -p "$BENCH_PPROF"
		curl -s -o "$BENCH_PPROF/$name.pprof" "http://127.0.0.1:$ADMIN/debug/pprof/profile?seconds=$((SECS > 1 ? SECS - 1 : 1))" &
		prof=$!
	fi
	local g0 u0 r0 w0 g1 u1 r1 w1 m0 m1
	m0=$(mallocs)
	child_ticks
	g0=$(ticks "$gateway_pid") u0=$(ticks "$upstream_pid") r0=$(ticks "$redis_pid") w0=$child
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "$@")
	g1=$(ticks "$gateway_pid") u1=$(ticks "$upstream_pid") r1=$(ticks "$redis_pid")
	m1=$(mallocs)
	child_ticks
	w1=$child
	local rps p50 p99 non2xx total
	[ -n "$prof" ] && wait "$prof"
	total=$(awk '/requests in/ { print $1 }' <<<"$out")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
	p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
	non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	if [ -n "$non2xx" ]; then
		echo "$name: $non2xx non-2xx answers; the run is invalid" >&2
		exit 1
	fi
	local cpu
	cpu=$(awk -v n="$total" -v hz="$HZ" -v g=$((g1 - g0)) -v u=$((u1 - u0)) -v r=$((r1 - r0)) -v w=$((w1 - w0)) \
		-v m="$m0 $m1" \
		'BEGIN { f = 1e6 / hz / n; split(m, x, " "); printf "%.1f %.1f %.1f %.1f %.1f %.0f", g * f, u * f, r * f, w * f, (x[3] - x[1]) / n, (x[4] - x[2]) / n }')
	printf '%s %s %s %s %s %s\n' "$round" "$name" "$rps" "$p50" "$p99" "$cpu" >>"$work/results"
	printf '  round %s %-9s %10s req/s  p50 %-8s p99 %-8s CPU us/req gateway %s upstream %s redis %s wrk %s  gateway allocs/req %s B/req %s\n' \
		"$round" "$name" "$rps" "$p50" "$p99" $cpu
}

# run_instr NAME ROUND fixedload-args...: N requests between a reset and a
# dump of callgrind's counters; the instructions (Ir) of the dump over N.
dumps=0
run_instr() {
	local name=$1 round=$2
	shift 2
	if [ "$round" = 0 ]; then
		"$work/fixedload" -n 200 "$@"
		return
	fi
	# The memstats requests stay outside the counted window.
	local m0 m1 ir dump
	m0=$(mallocs)
	callgrind_control --zero "$gateway_pid" >/dev/null 2>&1
	"$work/fixedload" -n "$INSTR" "$@"
	callgrind_control --dump="$name" "$gateway_pid" >/dev/null 2>&1
	m1=$(mallocs)
	# callgrind_control exits 0 even when it reached no process, so the
	# dump it should have made is what tells.
	dumps=$((dumps + 1))
	dump="$work/callgrind.$gateway_pid.$dumps"
	ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump" 2>/dev/null) || true
	[ -n "$ir" ] || { echo "no instruction count in $dump: did callgrind_control reach the gateway? (see $work/valgrind.log)" >&2; exit 1; }
	if [ -n "${BENCH_PPROF:-}" ]; then # kept for callgrind_annotate
		mkdir -p "$BENCH_PPROF"
		cp "$dump" "$BENCH_PPROF/callgrind.$round.$name"
	fi
	awk -v r="$round" -v name="$name" -v ir="$ir" -v n="$INSTR" -v m="$m0 $m1" 'BEGIN {
		split(m, x, " ")
		printf "%s %s %.0f %.1f %.0f\n", r, name, ir / n, (x[3] - x[1]) / n, (x[4] - x[2]) / n
	}' | tee -a "$work/results" | awk '{ printf "  round %s %-9s %9s instructions/req  gateway allocs/req %s B/req %s\n", $1, $2, $3, $4, $5 }'
}

if [ -n "$INSTR" ]; then
	echo "--- $ROUNDS shuffled rounds of $INSTR requests each (fixedload, 4 connections), gateway under callgrind"
else
	echo "--- $ROUNDS interleaved rounds of ${SECS}s each, wrk -t$THREADS -c$CONNS, $(nproc) cores"
fi
# target NAME ROUND: one run against a target.
target() {
	case $1 in
	plain) run plain "$2" "http://127.0.0.1:$PLAIN/" ;;
	plain2) run plain2 "$2" "http://127.0.0.1:$PLAIN/" ;;
	cookie) run cookie "$2" -H "Cookie: $cookie" "$base/" ;;
	bearer) run bearer "$2" -H "Authorization: Bearer $token" "$base/" ;;
	plain+c) run plain+c "$2" -H "Cookie: $cookie" "http://127.0.0.1:$PLAIN/" ;;
	plain+b) run plain+b "$2" -H "Authorization: Bearer $token" "http://127.0.0.1:$PLAIN/" ;;
	bearer-nh) run bearer-nh "$2" -H "Authorization: Bearer $token" "http://127.0.0.1:$GATE2/" ;;
	public) run public "$2" "http://127.0.0.1:$GATE2/public" ;;
	floor) run floor "$2" -H "Authorization: Bearer $token" "http://127.0.0.1:$FLOOR/" ;;
	esac
}
# Each round runs the targets in a new random order. A fixed cyclic order
# (even one that starts each round one target further along) gave a target
# the same predecessor round after round, and that alone moved a ratio:
# plain2, the plain target run again, read 0.958 (95 % CI 0.933-1.006)
# when it always followed plain. Shuffled, no target keeps a position or
# a predecessor. BENCH_ORDER=rotate brings the old order back.
# Round 0 is a short unrecorded run of each: connection pools, caches and
# the Go heap settle before anything counts.
for t in "${targets[@]}"; do target "$t" 0; done
for r in $(seq 1 "$ROUNDS"); do
	if [ "${BENCH_ORDER:-shuffle}" = rotate ]; then
		n=${#targets[@]}
		order=()
		for i in $(seq 0 $((n - 1))); do order+=("${targets[$(((i + r - 1) % n))]}"); done
	else
		mapfile -t order < <(shuf -e "${targets[@]}")
	fi
	for t in "${order[@]}"; do target "$t" "$r"; done
done

echo
if [ -n "$INSTR" ]; then
	echo "--- medians over $ROUNDS rounds (ratio: plain's instructions over the target's, in the same round; as req/s would be if the gateway were all the cost)"
	awk '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ ir[$2, $1] = $3; al[$2, $1] = $4; by[$2, $1] = $5; if ($1 > R) R = $1 }
END {
	T = split(order, names, " ")
	printf "%-9s %14s %7s %-13s  %s\n", "target", "instr/req", "ratio", "(min-max)", "gateway allocs/req B/req"
	for (k = 1; k <= T; k++) {
		n = names[k]
		for (r = 1; r <= R; r++) { a[r] = ir[n, r]; q[r] = ir["plain", r] / ir[n, r]; b[r] = al[n, r]; c[r] = by[n, r] }
		m = median(q, R) # sorts q
		printf "%-9s %14.0f %7.3f (%.3f-%.3f)  %7.1f %7.0f\n", n, median(a, R), m, q[1], q[R], median(b, R), median(c, R)
	}
}' order="${targets[*]}" "$work/results"
	exit 0
fi
echo "--- medians over $ROUNDS rounds (ratio: to plain in the same round)"
awk '
function ms(v) {
	if (v ~ /us$/) return substr(v, 1, length(v)-2) / 1000
	if (v ~ /ms$/) return substr(v, 1, length(v)-2) + 0
	if (v ~ /s$/) return substr(v, 1, length(v)-1) * 1000
	return v
}
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	rps[$2, $1] = $3; p50[$2, $1] = ms($4); p99[$2, $1] = ms($5); if ($1 > R) R = $1
	for (i = 6; i <= 11; i++) cpu[$2, $1, i] = $i
}
END {
	T = split(order, names, " ")
	# A distribution-free 95 % interval for a median: the order statistics
	# ranked about 0.98 sqrt(R) either side of the middle.
	lo = int(R / 2 - 0.98 * sqrt(R)); if (lo < 1) lo = 1
	hi = R + 1 - lo
	printf "%-9s %9s %8s %8s %7s %-13s  %s\n", "target", "req/s", "p50 ms", "p99 ms", "ratio", "(95% CI)", "CPU us/req: gateway upstream redis wrk | gateway allocs/req B/req"
	for (k = 1; k <= T; k++) {
		n = names[k]
		for (r = 1; r <= R; r++) { a[r] = rps[n, r]; b[r] = p50[n, r]; c[r] = p99[n, r]; q[r] = rps[n, r] / rps["plain", r] }
		m = median(q, R) # sorts q
		printf "%-9s %9.0f %8.2f %8.2f %7.3f (%.3f-%.3f)  ", n, median(a, R), median(b, R), median(c, R), m, q[lo], q[hi]
		for (i = 6; i <= 11; i++) { for (r = 1; r <= R; r++) a[r] = cpu[n, r, i]; printf i == 10 ? " | %7.1f" : i == 11 ? " %7.0f" : " %7.1f", median(a, R) }
		printf "\n"
	}
}' order="${targets[*]}" "$work/results"

# Redis memory per session, in a second, empty server.
if [ "${BENCH_SESSIONS:-100000}" -gt 0 ]; then
	MEM=$(free_port)
	redis-server --bind 127.0.0.1 --port "$MEM" --save "" --appendonly no \
		--dir "$work" --logfile "$work/redis-mem.log" &
	pids+=($!)
	wait_port "$MEM"
	echo
	echo "--- Redis memory per session (BENCH_SESSIONS=0 skips)"
	go run ./internal/bench/sessionmem -redis "redis://127.0.0.1:$MEM/0" -n "${BENCH_SESSIONS:-100000}" -per-user 1
	redis-cli -p "$MEM" flushall >/dev/null
	go run ./internal/bench/sessionmem -redis "redis://127.0.0.1:$MEM/0" -n "${BENCH_SESSIONS:-100000}" -per-user 10
fi
