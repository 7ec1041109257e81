#!/usr/bin/env bash
# Keeps the shipped /etc/lwgate/lwgated.toml (systemd/lwgated.toml) and the config parser in
# step: the file is valid as shipped and with every key uncommented, every key is commented
# out, and it lists every section and key the parser knows. lwgated itself says which keys it
# knows (its "unknown key (known: ...)" message), so a key added to the parser without a line
# here fails this test.
#
#   default_config_test.sh LWGATED TOML_FILE
set -euo pipefail

lwgated=$1
file=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

# check NAME FILE: lwgated --check-config accepts FILE.
check() {
  local out
  if out=$("$lwgated" --check-config "$2" 2>&1); then
    echo "ok   $1: $out"
  else
    fail "$1: lwgated --check-config $2:"
    echo "$out"
  fi
}

check "as shipped" "$file"

# Key lines are "# key = value"; explanations are other comments and stay comments. An array
# of tables has its header commented out too ("# [[upstream]]"): uncommented with its keys.
key_line='^# ([a-z_]+) = '
sed -E -e "s/$key_line/\\1 = /" -e 's/^# (\[\[[a-z_]+\]\])$/\1/' "$file" >"$tmp/uncommented.toml"
check "every key uncommented" "$tmp/uncommented.toml"
if grep -nE '^[a-z_]+ *=' "$file"; then
  fail "keys above are set in the shipped file; every key must be commented out with its default"
fi

# known PROBE_FILE PREFIX: the comma-separated list lwgated names as known for PREFIX.
known() {
  { "$lwgated" --check-config "$1" 2>&1 || true; } |
    sed -nE "s/^[^ ]+: ${2}__probe: unknown key \\(known: (.*)\\)\$/\\1/p" | tr -d ' ' | tr ',' ' '
}
printf '__probe = 1\n' >"$tmp/probe.toml"
sections=$(known "$tmp/probe.toml" "")
[ -n "$sections" ] || { echo "FAIL cannot learn the known sections from lwgated"; exit 1; }

# key_lines SECTION: the key names of "# key = " lines under [SECTION] (or "# [[SECTION]]") in
# the shipped file.
key_lines() {
  awk -v want="[$1]" '
    /^\[/ { section = $1 }
    /^# \[\[[a-z_]+\]\]$/ { section = substr($2, 2, length($2) - 2) }
    section == want && match($0, /^# [a-z_]+ = /) { print substr($0, 3, RLENGTH - 5) }
  ' "$file"
}

for section in $sections; do
  if grep -qx "# \[\[$section\]\]" "$file"; then
    # An array of tables: lwgated names the keys of its first table "[SECTION 1] KEY".
    printf '[[%s]]\n__probe = 1\n' "$section" >"$tmp/probe.toml"
    keys=$(known "$tmp/probe.toml" "\\[$section 1\\] ")
  elif grep -qx "\[$section\]" "$file"; then
    printf '[%s]\n__probe = 1\n' "$section" >"$tmp/probe.toml"
    keys=$(known "$tmp/probe.toml" "\\[$section\\] ")
  else
    fail "section [$section] is missing"
    continue
  fi
  if [ -z "$keys" ]; then
    fail "cannot learn the keys of [$section] from lwgated (an array of tables? extend this test)"
    continue
  fi
  listed=$(key_lines "$section")
  for key in $keys; do
    count=$(grep -cx "$key" <<<"$listed" || true)
    if [ "$count" -eq 1 ]; then
      echo "ok   [$section] $key"
    else
      fail "[$section] $key: listed $count times (want once, as \"# $key = DEFAULT\")"
    fi
  done
done

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "the default configuration lists every key lwgated knows"
