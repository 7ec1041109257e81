#!/usr/bin/env bash
# Crash test at bench size (issue 8): runs the crash e2e test (tests/e2e/crash_e2e_test.cpp)
# with many more SIGKILLs than CI's 50: the real lwgated under load from simulators
# (registrations, Updates, queued Reads and Executes, notifications), killed at random moments
# and restarted on the same database each time. Prints, per run: the seed, kills, requests done,
# Executes run once each, registrations acknowledged and kept, notifications, and the restart
# time to READY (p50, max), then PASS or FAIL with the test's failure lines.
#
# Usage: bench/run-crash-bench.sh [BUILD_DIR]      (default <repo>/build; ninja crash_e2e_test)
# Environment: CYCLES=500 kills per run, RUNS=1 runs (each with a new seed), SEED=<fixed seed>
set -u

script_dir=$(cd "$(dirname "$0")" && pwd)
build=$(realpath -m "${1:-$script_dir/../build}")
test_binary=$build/tests/e2e/crash_e2e_test
if [[ ! -x $test_binary ]]; then
  echo "run-crash-bench: $test_binary not found (ninja -C $build crash_e2e_test)" >&2
  exit 2
fi
cycles=${CYCLES:-500}
runs=${RUNS:-1}
status=0
for run in $(seq "$runs"); do
  seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
  start=$(date +%s)
  out=$(LWGATE_CRASH_CYCLES=$cycles LWGATE_CRASH_SEED=$seed "$test_binary" 2>&1)
  rc=$?
  echo "run $run: seed $seed, $(($(date +%s) - start)) s"
  grep '^crash test: .*requests done' <<<"$out" | sed 's/^/  /'
  if [[ $rc -eq 0 ]]; then
    echo "  PASS"
  else
    status=1
    echo "  FAIL (exit $rc):"
    grep -E 'Failure|Which is|Expected|unfinished|acknowledged' <<<"$out" | head -n 20 | sed 's/^/    /'
  fi
done
exit $status
