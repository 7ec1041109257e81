#!/usr/bin/env bash
# Registration benchmark against the real daemon: starts lwgated on a temporary database and a
# free port on 127.0.0.1, runs lwgate-bench-register with 32 requests in flight and then with 1,
# prints the generator's figures and how many rows the registrations table holds (every 2.01
# must have been committed), then stops lwgated with SIGTERM.
#
# Usage: bench/run-register-bench.sh [PATH/TO/lwgated]
#   default lwgated: <repo>/build/gateway/daemon/lwgated
# Environment:
#   N=5000           registrations per run (each run uses its own endpoint names)
#   WARMUP=200       unmeasured registrations before each run
#   LOG_LEVEL=info   lwgated --log-level (info is the daemon's default)
#   LWGATE_BENCH=... the generator (default: bench/lwgate-bench-register in lwgated's build dir)
#   LWGATE_BUS=none  lwgated --bus (none: the benchmark measures CoAP and SQLite only)
#
# Prints figures only; it never judges them. Exit status: 0 when lwgated started, every
# registration was answered 2.01 and the row count matches; 1 otherwise; 2 on setup failure.
set -u

script_dir=$(cd "$(dirname "$0")" && pwd)
lwgated=${1:-$script_dir/../build/gateway/daemon/lwgated}
lwgated=$(realpath -m "$lwgated")
build_dir=$(realpath -m "$(dirname "$lwgated")/../..")
bench=${LWGATE_BENCH:-$build_dir/bench/lwgate-bench-register}
n=${N:-5000}
warmup=${WARMUP:-200}
log_level=${LOG_LEVEL:-info}

for tool in "$lwgated" "$bench"; do
  if [[ ! -x $tool ]]; then
    echo "run-register-bench: $tool not found or not executable (build it first)" >&2
    exit 2
  fi
done
if ! command -v sqlite3 >/dev/null; then
  echo "run-register-bench: the sqlite3 CLI is needed to count committed rows" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lwgate-bench.XXXXXX")
db=$tmp/lwgate.db
log=$tmp/lwgated.log
pid=
daemon_status=

stop_daemon() {
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null
  # Bounded: 10 s for a clean SIGTERM shutdown, then SIGKILL so the script never hangs.
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run-register-bench: lwgated ignored SIGTERM for 10 s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  daemon_status=$?
  pid=
}
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  stop_daemon
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# Two measured runs plus their warm-ups, with room to spare, must fit under max_devices.
max_devices=$(((n + warmup) * 2 + 100))
# One generator address registering thousands of endpoints is exactly what the per-address
# rate limit refuses: the benchmark turns it off.
cat >"$tmp/lwgated.toml" <<EOF
[server]
max_devices = $max_devices
[registration]
rate_limit = 0
EOF

"$lwgated" --bus "${LWGATE_BUS:-none}" --config "$tmp/lwgated.toml" --db "$db" --listen 127.0.0.1:0 \
  --log-level "$log_level" 2>"$log" &
pid=$!

port=
for _ in $(seq 100); do  # up to 10 s for start-up
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run-register-bench: lwgated exited during start-up; its log:" >&2
    cat "$log" >&2
    pid=
    exit 2
  fi
  if grep -q 'LWG1000.*ready' "$log"; then
    port=$(grep -o 'listening on coap://127\.0\.0\.1:[0-9]*' "$log" | head -n1 | sed 's/.*://')
    break
  fi
  sleep 0.1
done
if [[ -z $port ]]; then
  echo "run-register-bench: no 'LWG1000 ... ready' with a 'listening on coap://127.0.0.1:PORT' line in 10 s; log:" >&2
  cat "$log" >&2
  exit 2
fi

echo "lwgated: $lwgated (pid $pid, port $port, db $db, log-level $log_level)"
echo "generator: $bench"
status=0
expected=0
for w in 32 1; do
  echo
  echo "== W=$w N=$n (warm-up $warmup)"
  # --max-seconds bounds a run even if the daemon stops answering.
  "$bench" --server "127.0.0.1:$port" -n "$n" -w "$w" --warmup "$warmup" --prefix "w$w-" \
    --max-seconds 300 || status=1
  expected=$((expected + n + warmup))
done

echo
rows=$(sqlite3 "$db" 'SELECT count(*) FROM registrations;' 2>&1) || status=1
echo "registrations_rows $rows (expected $expected)"
[[ $rows == "$expected" ]] || status=1

warnings=$(grep -c '^<[0-4]>' "$log")
echo "lwgated_warnings_or_errors $warnings"
grep '^<[0-4]>' "$log" | head -n 5

stop_daemon
echo "lwgated_exit_status $daemon_status (after SIGTERM)"
[[ $daemon_status == 0 ]] || status=1
exit $status
