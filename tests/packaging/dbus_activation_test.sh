#!/usr/bin/env bash
# The D-Bus activation file (systemd/org.lwgate.Gateway1.service) is one dbus-daemon accepts,
# is named after the bus name it activates (the system bus insists), and hands activation to
# a unit name that lwgated.service really provides (its Alias=), so `systemctl enable lwgated`
# is what makes the name activatable.
#
#   dbus_activation_test.sh ACTIVATION_FILE UNIT_FILE
set -euo pipefail

activation=$1
unit=$2
failures=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

command -v dbus-daemon >/dev/null && command -v dbus-send >/dev/null || {
  echo "FAIL: dbus-daemon or dbus-send is missing (scripts/install-deps.sh installs them)"
  exit 1
}

value() { sed -nE "s/^$1=(.*)\$/\\1/p" "$activation"; }
name=$(value Name)
[ "$name" = org.lwgate.Gateway1 ] && pass "Name=$name" || fail "Name=$name"
[ "$(basename "$activation")" = "$name.service" ] && pass "file name matches Name=" ||
  fail "file name $(basename "$activation") is not $name.service"
systemd_service=$(value SystemdService)
if [ -n "$systemd_service" ] && { [ "$systemd_service" = "$(basename "$unit")" ] ||
  grep -qx "Alias=$systemd_service" "$unit"; }; then
  pass "SystemdService=$systemd_service is provided by $(basename "$unit")"
else
  fail "SystemdService=$systemd_service is neither $(basename "$unit") nor one of its Alias="
fi

# dbus-daemon parses the file and lists the name as activatable.
tmp=$(mktemp -d)
daemon_pid=""
trap '[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/services"
cp "$activation" "$tmp/services/"
cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$tmp/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
exec {daemon_out}<> <(:)
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --print-address=1 \
  >&"$daemon_out" 2>"$tmp/daemon.err" &
daemon_pid=$!
if ! read -r -t 20 -u "$daemon_out" address; then
  echo "FAIL: dbus-daemon did not start:"
  cat "$tmp/daemon.err"
  exit 1
fi
names=$(dbus-send --bus="$address" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.ListActivatableNames)
if grep -q "string \"$name\"" <<<"$names"; then
  pass "dbus-daemon lists $name as activatable"
else
  fail "dbus-daemon does not list $name as activatable: $(cat "$tmp/daemon.err")"
fi

[ "$failures" -eq 0 ] || exit 1
