#!/usr/bin/env bash
# The test suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer (g++, every
# report fatal: -fno-sanitize-recover=all) in ./build-asan. Run it after scripts/test.sh (it
# expects the packages of scripts/install-deps.sh and the npm peers to be in place).
#
# Every test but the labels "package" (the .deb, the unit file, the man page: packaging, not
# code, and the same in both builds) and "style" (clang-format) runs, the fuzz corpus replays
# included. Every instrumented process - test binaries, each lwgated an e2e test starts,
# lwgate-sim, lwgatectl - writes its reports into build-asan/sanitizer-reports/, so a report in
# a child whose exit code no test looks at still fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

# No -Werror here: the instrumentation confuses GCC's flow-based warnings (false
# -Wmaybe-uninitialized in std::variant moves, GCC 12), and the ordinary build already holds
# every warning as an error.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLWGATE_SANITIZE=ON \
  -DLWGATE_WERROR=OFF "$@"
cmake --build build-asan

reports=$PWD/build-asan/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"

# LeakSanitizer stops the process's threads with ptrace; where that is not allowed (some
# containers, or running under strace/gdb) it fails every process at exit. Probe once with a
# test binary that has nothing to report and leave leak checking out only then, saying so.
leaks=1
if ASAN_OPTIONS=detect_leaks=1 build-asan/tests/fuzz/fuzz_cli_values_replay \
  tests/fuzz/cli_values 2>&1 >/dev/null | grep -q "LeakSanitizer has encountered a fatal error"; then
  echo "test-sanitizers: LeakSanitizer cannot run here (ptrace refused); leak checks are off" >&2
  leaks=0
fi
export ASAN_OPTIONS="detect_leaks=$leaks:log_path=$reports/asan:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0"

status=0
ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 -LE 'package|style' || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "test-sanitizers: sanitizer reports:" >&2
  for f in "$reports"/*; do
    echo "--- $f" >&2
    head -n 60 "$f" >&2
  done
  status=1
fi
exit $status
