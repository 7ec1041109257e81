#!/usr/bin/env bash
# The lwgated(8) man page renders without a single groff warning, and documents every option
# `lwgated --help` lists (so a new option without documentation fails here).
#
#   man_page_test.sh MAN_PAGE LWGATED
set -euo pipefail

page=$1
lwgated=$2
failures=0
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

if ! command -v groff >/dev/null; then
  echo "SKIP: groff is missing (package groff-base; scripts/install-deps.sh installs it)"
  exit 77
fi

# -ww: all warnings; -z: no output, so only diagnostics are printed.
out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || fail "groff failed"
if [ -n "$out" ]; then
  fail "groff warnings:"
  echo "$out"
else
  echo "ok   groff -man -ww: no warnings"
fi
if grep -n '@[A-Z_]*@' "$page"; then
  fail "unconfigured placeholders above"
fi

# The page's text with roff's \- turned back into -.
text=$(sed 's/\\-/-/g' "$page")
for option in $("$lwgated" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  if grep -qF -- "$option" <<<"$text"; then
    echo "ok   $option is documented"
  else
    fail "$option (from lwgated --help) is not in $page"
  fi
done

[ "$failures" -eq 0 ] || exit 1
