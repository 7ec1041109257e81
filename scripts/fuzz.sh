#!/usr/bin/env bash
# Runs one libFuzzer target: scripts/fuzz.sh TARGET [SECONDS] [-- libFuzzer options...]
#   TARGET   a name from tests/fuzz (registration_params, content_format, ...); "list" lists them
#   SECONDS  how long to fuzz (default 600)
# Builds the target with clang, libFuzzer, ASan and UBSan in build-fuzz/ (only what it needs),
# then fuzzes in one process under `nice -n 19`, starting from the seeds in tests/fuzz/TARGET/.
# New inputs go to build-fuzz/corpus/TARGET/ (not the repository); a crash is written to
# build-fuzz/findings/TARGET/ and this script exits non-zero. To take interesting inputs into the
# repository's corpus, minimised:
#   build-fuzz/tests/fuzz/fuzz_TARGET -merge=1 tests/fuzz/TARGET build-fuzz/corpus/TARGET
# The last lines of the log (build-fuzz/TARGET.log) give executions, exec/s and coverage.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS] [-- libFuzzer options]}
shift
seconds=600
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  seconds=$1
  shift
fi
[ "${1:-}" = "--" ] && shift

targets=$(sed -n 's/^lwgate_fuzz_target(\([a-z_0-9]*\) .*/\1/p' tests/fuzz/CMakeLists.txt)
if [ "$target" = list ]; then
  echo "$targets"
  exit 0
fi
if ! grep -qx "$target" <<<"$targets"; then
  echo "fuzz.sh: unknown target '$target'; one of:" $targets >&2
  exit 2
fi

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLWGATE_FUZZ=ON >/dev/null
fi
nice -n 19 cmake --build build-fuzz --target "fuzz_$target" -- -j2

corpus=build-fuzz/corpus/$target
findings=build-fuzz/findings/$target
mkdir -p "$corpus" "$findings"
log=build-fuzz/$target.log
echo "fuzz.sh: fuzzing $target for ${seconds}s (log: $log)"
# UBSan reports are fatal (-fno-sanitize-recover). llvm-symbolizer (package llvm-14) turns the
# addresses of a report into file:line.
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
status=0
UBSAN_OPTIONS=print_stacktrace=1 nice -n 19 "build-fuzz/tests/fuzz/fuzz_$target" \
  -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$findings/" "$@" "$corpus" "tests/fuzz/$target" >"$log" 2>&1 || status=$?
grep -E '^#[0-9]+.*(DONE|pulse)|stat::|cov:' "$log" | tail -4
if [ $status -ne 0 ]; then
  echo "fuzz.sh: $target FAILED (exit $status); the input is in $findings/" >&2
  grep -E 'ERROR|fuzz property|SUMMARY|runtime error' "$log" | head -5 >&2
fi
exit $status
