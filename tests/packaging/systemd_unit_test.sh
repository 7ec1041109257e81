#!/usr/bin/env bash
# systemd/lwgated.service must pass `systemd-analyze verify` without a single line of output
# (verify exits 0 on most warnings, so any output fails) and be rated 2.0 or better (lower is
# better) by `systemd-analyze security`. Both run offline: systemd need not be PID 1.
#
#   systemd_unit_test.sh UNIT_FILE LWGATED MAN_DIR
#
# verify checks that ExecStart= exists and that Documentation=man:lwgated(8) resolves, so it
# runs on a copy whose ExecStart names the built lwgated (nothing else changes), with MANPATH
# pointing at the built man page.
set -euo pipefail

unit=$1
lwgated=$2
man_dir=$3
max_exposure=2.0

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is missing (package systemd; scripts/install-deps.sh installs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -q '^ExecStart=/usr/sbin/lwgated ' "$unit" || {
  echo "FAIL: $unit has no ExecStart=/usr/sbin/lwgated ..."
  exit 1
}
sed "s|^ExecStart=/usr/sbin/lwgated |ExecStart=$lwgated |" "$unit" >"$tmp/lwgated.service"

failures=0
out=$(cd "$tmp" && MANPATH="$man_dir" systemd-analyze verify ./lwgated.service 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
  echo "ok   systemd-analyze verify: no output"
else
  echo "FAIL systemd-analyze verify (exit $rc):"
  echo "$out"
  failures=$((failures + 1))
fi

# --threshold takes tenths; the exposure line is parsed too, so the score is in the log.
out=$(cd "$tmp" && systemd-analyze security --offline=yes --threshold=20 --no-pager \
  ./lwgated.service 2>&1) && rc=0 || rc=$?
score=$(sed -nE 's/^.*Overall exposure level for lwgated.service: ([0-9.]+).*$/\1/p' <<<"$out")
if [ "$rc" -eq 0 ] && [ -n "$score" ] && awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
  echo "ok   systemd-analyze security: exposure $score (at most $max_exposure)"
  grep '✗' <<<"$out" || true  # what is still exposed, for the record
else
  echo "FAIL systemd-analyze security: exposure ${score:-unknown} (exit $rc), at most $max_exposure wanted:"
  echo "$out"
  failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || exit 1
