#!/usr/bin/env bash
# lwgatectl round trip against the real daemon on a private dbus-daemon (its own temporary
# database, a free CoAP port on 127.0.0.1, an awake lwgate-sim device): RUNS runs of the whole
# `lwgatectl read awake-1 /3/0/9 --wait` command (process start, bus connection, subscribe,
# submit, CoAP exchange, the RequestCompleted signal, GetRequest, output), and of `lwgatectl
# status` for comparison, p50/p99/min/max in milliseconds. D-Bus enqueue throughput (single
# calls vs SubmitBatch) is bench/run-drain-bench.sh's.
#
# Usage: bench/run-cli-bench.sh [BUILD_DIR]     (default: <repo>/build)
# Environment: RUNS=200
#
# Prints figures only; it never judges them. Exit status: 0 when every run succeeded, 1 when
# one failed, 2 on setup failure.
set -u

script_dir=$(cd "$(dirname "$0")" && pwd)
build=$(realpath -m "${1:-$script_dir/../build}")
lwgated=$build/gateway/daemon/lwgated
ctl=$build/cli/lwgatectl
sim=$build/tests/sim/lwgate-sim
runs=${RUNS:-200}

for tool in "$lwgated" "$ctl" "$sim"; do
  if [[ ! -x $tool ]]; then
    echo "run-cli-bench: $tool not found or not executable (build it first)" >&2
    exit 2
  fi
done
command -v dbus-daemon >/dev/null || { echo "run-cli-bench: dbus-daemon is needed" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lwgate-cli-bench.XXXXXX")
pids=()
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# Waits up to 10 s (bounded, polling) for a command to succeed.
wait_for() {
  for _ in $(seq 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$tmp/bus.conf" --nofork >"$tmp/dbus.log" 2>&1 &
pids+=($!)
bus=unix:path=$tmp/bus
wait_for test -S "$tmp/bus" || { echo "run-cli-bench: dbus-daemon did not start" >&2; exit 2; }
export LWGATE_BUS=$bus

# No configuration file: the defaults.
"$lwgated" --db "$tmp/lwgate.db" --listen 127.0.0.1:0 --bus "$bus" 2>"$tmp/lwgated.log" &
pids+=($!)
wait_for "$ctl" status || { echo "run-cli-bench: lwgated not on the bus; log:" >&2; cat "$tmp/lwgated.log" >&2; exit 2; }
port=$(grep -o 'listening on coap://127\.0\.0\.1:[0-9]*' "$tmp/lwgated.log" | head -n1 | sed 's/.*://')

"$sim" --server "coap://127.0.0.1:$port" --ep awake-1 register awake=3600 >"$tmp/sim-awake.log" 2>&1 &
pids+=($!)
wait_for "$ctl" show awake-1 || { echo "run-cli-bench: the simulator did not register" >&2; exit 2; }

echo "lwgated: $lwgated (port $port, bus $bus)"
echo "lwgatectl: $ctl"
status=0

# Runs "$@" RUNS times and prints NAME's p50/p99/min/max; a failed run counts, and fails the script.
measure() {
  local name=$1
  shift
  "$@" >/dev/null || status=1  # warm caches
  : >"$tmp/latency"
  local failed=0 start end
  # $EPOCHREALTIME (microseconds, bash 5) costs no process of its own, unlike date(1).
  for _ in $(seq "$runs"); do
    start=${EPOCHREALTIME/./}
    "$@" >/dev/null || failed=$((failed + 1))
    end=${EPOCHREALTIME/./}
    echo $((end - start)) >>"$tmp/latency"
  done
  sort -n "$tmp/latency" | awk -v name="$name" -v failed="$failed" '
    { v[NR] = $1 }
    END {
      printf "%s runs=%d failed=%d p50_ms=%.2f p99_ms=%.2f min_ms=%.2f max_ms=%.2f\n",
             name, NR, failed, v[int(0.50 * (NR - 1) + 1.5)] / 1000,
             v[int(0.99 * (NR - 1) + 1.5)] / 1000, v[1] / 1000, v[NR] / 1000
    }'
  [[ $failed == 0 ]] || status=1
}

echo
echo "== $runs runs each"
# The request's round trip, and for comparison what any lwgatectl command costs (process,
# connection, one property call).
measure cli_read_wait "$ctl" read awake-1 /3/0/9 --wait --timeout 30
measure cli_status "$ctl" status

warnings=$(grep -c '^<[0-4]>' "$tmp/lwgated.log")
echo "lwgated_warnings_or_errors $warnings"
grep '^<[0-4]>' "$tmp/lwgated.log" | head -n 5
exit $status
