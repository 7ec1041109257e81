#!/usr/bin/env bash
# Checks the shipped system-bus policy (systemd/org.lwgate.Gateway1.conf) on a private
# dbus-daemon configured like the system bus (default deny, the policy file included), with a
# stand-in service owning org.lwgate.Gateway1 and callers of three kinds: root, a member of the
# gateway's group, and an unprivileged user (nobody).
#
#   dbus_policy_test.sh POLICY_FILE STAND_IN_BINARY [LWGATED_BINARY]
#
# With LWGATED_BINARY the real daemon then owns the name as the service user and is called the
# same way: nobody gets AccessDenied from the bus, the group member reaches lwgated (whose own
# answer, NotFound for an unknown request, proves the call got through).
#
# Needs root (it creates users and switches to them); skips with exit 77 otherwise. The users
# and group it creates have unique names (the policy's "lwgate" is renamed to them in a copy,
# so a real lwgate account on the machine is never touched) and are deleted on exit.
set -euo pipefail

policy=$1
stand_in=$2
lwgated=${3:-}

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root to create test users and switch to them (CI runs as root)"
for tool in dbus-daemon dbus-send setpriv useradd userdel groupadd groupdel; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh installs it)"; exit 1; }
done
id nobody >/dev/null 2>&1 || { echo "FAIL: user nobody is missing"; exit 1; }

tag="lwgt$$"
group="${tag}g"      # stands for group lwgate
svc_user="${tag}s"   # stands for user lwgate (the service)
operator="${tag}o"   # a member of group lwgate
tmp=$(mktemp -d)
daemon_pid=""
server_pid=""

cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  userdel "$operator" 2>/dev/null || true
  userdel "$svc_user" 2>/dev/null || true
  groupdel "$group" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

groupadd --system "$group"
useradd --system --no-create-home --shell /usr/sbin/nologin --gid "$group" "$svc_user"
useradd --system --no-create-home --shell /usr/sbin/nologin --user-group --groups "$group" "$operator"

# The shipped file with its account names replaced; every other byte is the same.
sed -e "s/user=\"lwgate\"/user=\"$svc_user\"/g" -e "s/group=\"lwgate\"/group=\"$group\"/g" \
  "$policy" >"$tmp/policy.conf"
if cmp -s "$policy" "$tmp/policy.conf"; then
  echo "FAIL: $policy names neither user=\"lwgate\" nor group=\"lwgate\""
  exit 1
fi

# The test users must reach the bus socket and the stand-in, wherever the build tree is.
chmod 0755 "$tmp"
install -m 0755 "$stand_in" "$tmp/stand-in"
stand_in=$tmp/stand-in
cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <!-- The default policy of /usr/share/dbus-1/system.conf. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$tmp/policy.conf</include>
</busconfig>
EOF

# dbus-daemon prints its address once it listens: wait for that line, not for a time.
exec {daemon_out}<> <(:)
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --print-address=1 \
  >&"$daemon_out" 2>"$tmp/daemon.err" &
daemon_pid=$!
if ! read -r -t 20 -u "$daemon_out" address; then
  echo "FAIL: dbus-daemon did not start:"
  cat "$tmp/daemon.err"
  exit 1
fi
# A policy naming an unknown user or group, or any other complaint, would show up here. Only
# dbus-daemon's attempt as root to raise its fd limit may fail (containers forbid it).
if grep -v 'Failed to set fd limit' "$tmp/daemon.err"; then
  echo "FAIL: dbus-daemon complained about the configuration (above)"
  exit 1
fi

failures=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

as_user() {  # as_user USER COMMAND...: run with USER's uid, primary group and groups only
  local user=$1
  shift
  if [ "$user" = root ]; then
    exec "$@"
  fi
  exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
}

# Name ownership: an unprivileged user must be refused.
out=$(as_user nobody timeout 20 "$stand_in" serve "$address" 2>&1) && rc=0 || rc=$?
# sd-bus reports the bus's org.freedesktop.DBus.Error.AccessDenied as EACCES.
if [ "$rc" -eq 3 ] && [ "$out" = "OWN-FAILED Permission denied" ]; then
  pass "nobody may not own org.lwgate.Gateway1 ($out)"
else
  fail "nobody owning org.lwgate.Gateway1: exit $rc, output: $out"
fi

# start_service USER: the stand-in owns the name as USER; waits for its READY line.
start_service() {
  exec {server_out}<> <(:)
  (as_user "$1" "$stand_in" serve "$address") >&"$server_out" 2>"$tmp/server.err" &
  server_pid=$!
  local line=""
  read -r -t 20 -u "$server_out" line || true
  if [ "$line" = READY ]; then
    pass "$2 may own org.lwgate.Gateway1"
    return 0
  fi
  fail "$2 could not own org.lwgate.Gateway1: ${line:-no answer} $(cat "$tmp/server.err")"
  return 1
}
stop_service() {  # ... and waits until the bus has seen the name go
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  local i
  for i in $(seq 100); do
    dbus-send --bus="$address" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.lwgate.Gateway1 | grep -q 'boolean false' &&
      return 0
    sleep 0.05
  done
  fail "org.lwgate.Gateway1 still has an owner after its owner stopped"
}

# expect USER allow|deny WHAT dbus-send-ARGS...
expect() {
  local user=$1 want=$2 what=$3
  shift 3
  local out rc
  out=$(as_user "$user" timeout 20 dbus-send --bus="$address" --print-reply --reply-timeout=10000 \
    --dest=org.lwgate.Gateway1 "$@" 2>&1) && rc=0 || rc=$?
  if [ "$want" = allow ]; then
    if [ "$rc" -eq 0 ]; then pass "$user may $what"; else fail "$user may $what: $out"; fi
  else
    if [ "$rc" -ne 0 ] && [[ "$out" == *org.freedesktop.DBus.Error.AccessDenied* ]]; then
      pass "$user may not $what"
    else
      fail "$user may not $what: exit $rc, $out"
    fi
  fi
}

check_callers() {
  local root=/org/lwgate/Gateway1 dev=/org/lwgate/Gateway1/device/demo
  local props=org.freedesktop.DBus.Properties
  for user in nobody "$operator" root; do
    # Everyone: introspect, read properties, list objects, ping.
    expect "$user" allow "introspect" $root org.freedesktop.DBus.Introspectable.Introspect
    expect "$user" allow "introspect a device" $dev org.freedesktop.DBus.Introspectable.Introspect
    expect "$user" allow "read a property" $root $props.Get string:org.lwgate.Gateway1 string:Version
    expect "$user" allow "read all properties" $root $props.GetAll string:org.lwgate.Gateway1
    expect "$user" allow "read a device property" \
      $dev $props.Get string:org.lwgate.Gateway1.Device string:Endpoint
    expect "$user" allow "list the devices" $root org.freedesktop.DBus.ObjectManager.GetManagedObjects
    expect "$user" allow "ping the peer" $root org.freedesktop.DBus.Peer.Ping
    # Only root and group lwgate: methods and property writes.
    local want=allow
    [ "$user" = nobody ] && want=deny
    expect "$user" $want "call a gateway method" $root org.lwgate.Gateway1.Ping
    expect "$user" $want "call a device method" $dev org.lwgate.Gateway1.Device.Ping
    expect "$user" $want "set a property" \
      $root $props.Set string:org.lwgate.Gateway1 string:LogLevel variant:string:debug
    expect "$user" $want "set a device property" \
      $dev $props.Set string:org.lwgate.Gateway1.Device string:Tag variant:string:x
  done
  # A method call without an interface field matches no allow rule with an interface.
  local out rc
  out=$(as_user nobody timeout 20 "$stand_in" call "$address" $root Ping 2>&1) && rc=0 || rc=$?
  if [ "$rc" -ne 0 ] && [ "$out" = org.freedesktop.DBus.Error.AccessDenied ]; then
    pass "nobody may not call a method without an interface"
  else
    fail "nobody calling a method without an interface: exit $rc, $out"
  fi
  # (Not even for the group: its rules name interfaces too.)
  out=$(as_user "$operator" timeout 20 "$stand_in" call "$address" $root Ping 2>&1) && rc=0 || rc=$?
  if [ "$rc" -ne 0 ] && [ "$out" = org.freedesktop.DBus.Error.AccessDenied ]; then
    pass "$operator may not call a method without an interface"
  else
    fail "$operator calling a method without an interface: exit $rc, $out"
  fi
}

# The service as its own user (as lwgated.service runs it), then as root (lwgated by hand).
if start_service "$svc_user" "the service user"; then
  check_callers
  stop_service
fi
if start_service root "root"; then
  expect nobody deny "call a gateway method (service run by root)" \
    /org/lwgate/Gateway1 org.lwgate.Gateway1.Ping
  expect "$operator" allow "call a gateway method (service run by root)" \
    /org/lwgate/Gateway1 org.lwgate.Gateway1.Ping
  stop_service
fi

# The real lwgated, as its unit runs it: user lwgate (here the service user) on the bus.
if [ -n "$lwgated" ]; then
  install -m 0755 "$lwgated" "$tmp/lwgated"
  install -d -o "$svc_user" -m 0700 "$tmp/state"
  (as_user "$svc_user" "$tmp/lwgated" --db "$tmp/state/lw.db" --listen 127.0.0.1:0 \
    --bus "$address") >"$tmp/lwgated.out" 2>"$tmp/lwgated.log" &
  server_pid=$!
  for i in $(seq 200); do
    grep -q LWG4001 "$tmp/lwgated.log" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q LWG4001 "$tmp/lwgated.log"; then
    pass "lwgated (as the service user) owns org.lwgate.Gateway1"
    expect nobody allow "read lwgated's Version" /org/lwgate/Gateway1 \
      org.freedesktop.DBus.Properties.Get string:org.lwgate.Gateway1 string:Version
    expect nobody deny "call lwgated's GetRequest" /org/lwgate/Gateway1 \
      org.lwgate.Gateway1.GetRequest uint64:1
    expect nobody deny "call lwgated's CancelRequest" /org/lwgate/Gateway1 \
      org.lwgate.Gateway1.CancelRequest uint64:1
    for user in "$operator" root; do
      out=$(as_user "$user" timeout 20 dbus-send --bus="$address" --print-reply \
        --reply-timeout=10000 --dest=org.lwgate.Gateway1 /org/lwgate/Gateway1 \
        org.lwgate.Gateway1.GetRequest uint64:1 2>&1) && rc=0 || rc=$?
      if [[ "$out" == *org.lwgate.Gateway1.Error.NotFound* ]]; then
        pass "$user reaches lwgated's GetRequest (its answer: NotFound)"
      else
        fail "$user calling lwgated's GetRequest: exit $rc, $out"
      fi
    done
  else
    fail "lwgated did not take org.lwgate.Gateway1: $(cat "$tmp/lwgated.log")"
  fi
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all policy checks passed"
