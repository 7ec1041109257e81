#!/usr/bin/env bash
# Downlink queue benchmark (issue 3): runs lwgate-bench-drain, which starts its own private
# dbus-daemon, a temporary lwgated (own database, free port on 127.0.0.1) and lwgate-sim
# devices, and prints:
#   - the drain time of N queued Reads to one queue-mode device after it wakes, through lwgated
#     (D-Bus SubmitBatch while it sleeps; wake-up Update to the last RequestCompleted),
#   - the same N Reads sent one at a time (CON, NSTART=1) by a plain libcoap client straight to
#     a simulator, and the ratio of the two (issue 3's target: <= 1.2),
#   - the enqueue rate through D-Bus: SubmitBatch in batches, and single Read calls (p50/p99).
#
# Usage: bench/run-drain-bench.sh [BUILD_DIR] [-- extra lwgate-bench-drain options]
#   default BUILD_DIR: <repo>/build (needs lwgate-bench-drain, lwgated and lwgate-sim built:
#   ninja -C build lwgate-bench-drain)
# Environment:
#   N=1000          requests to drain
#   BATCH=1000      requests per SubmitBatch;  BATCHES=20  SubmitBatch calls
#   SINGLES=2000    single Read calls
#   LOG_LEVEL=info  lwgated --log-level (info logs one line per finished request)
#
# Prints figures only; it never judges them. Exit status: 0 when every request completed and
# was stored, 1 otherwise, 2 on setup failure.
set -u

script_dir=$(cd "$(dirname "$0")" && pwd)
build_dir=$script_dir/../build
if [[ $# -gt 0 && $1 != -- ]]; then
  build_dir=$1
  shift
fi
[[ ${1:-} == -- ]] && shift
bench=$(realpath -m "$build_dir/bench/lwgate-bench-drain")
if [[ ! -x $bench ]]; then
  echo "run-drain-bench: $bench not found or not executable (ninja -C build lwgate-bench-drain)" >&2
  exit 2
fi
if ! command -v dbus-daemon >/dev/null; then
  echo "run-drain-bench: dbus-daemon is needed (a private bus for the D-Bus API)" >&2
  exit 2
fi

echo "bench: $bench ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
# The program bounds every wait itself; timeout is a last resort so a run never hangs.
exec timeout 1800 "$bench" -n "${N:-1000}" --batch "${BATCH:-1000}" --batches "${BATCHES:-20}" \
  --singles "${SINGLES:-2000}" --log-level "${LOG_LEVEL:-info}" "$@"
