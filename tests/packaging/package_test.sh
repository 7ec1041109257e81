#!/usr/bin/env bash
# Builds the Debian package from the already-built tree (cpack -G DEB, no compiling) into a
# temporary directory and checks it: control fields, conffiles, maintainer scripts, every file
# and its mode. Then it installs the package into a throw-away root, never into this machine:
# as root with `dpkg --root` (maintainer scripts included: the user comes from sysusers, the
# unit gets enabled, all under that root thanks to DPKG_ROOT), otherwise with `dpkg -x`; runs
# the installed lwgated (--version, --check-config of the installed file, start and stop); and
# as root also upgrades (a changed conffile and a disabled unit stay so) and purges it.
#
#   package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$1
src=$2

for tool in cpack dpkg-deb dpkg-shlibdeps dpkg; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is missing (packages cmake, dpkg-dev; scripts/install-deps.sh installs them)"
    exit 77
  fi
done

tmp=$(mktemp -d)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

# --- build --------------------------------------------------------------------------------
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  echo "FAIL cpack:"
  cat "$tmp/cpack.log"
  exit 1
fi
debs=("$tmp"/out/lwgate_*.deb)
[ -f "${debs[0]}" ] || { echo "FAIL no lwgate_*.deb in $tmp/out"; cat "$tmp/cpack.log"; exit 1; }
deb=${debs[0]}
pass "cpack built $(basename "$deb")"

# --- control ------------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = lwgate ] && pass "Package: lwgate" || fail "Package: $(field Package)"
depends=$(field Depends)
for dep in "systemd | systemd-sysusers" libsystemd0 libcoap3 libsqlite3-0 libtomlplusplus3; do
  if [[ "$depends" == *"$dep"* ]]; then pass "Depends names $dep"; else fail "Depends lacks $dep: $depends"; fi
done
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
if [ "$(cat "$tmp/control/conffiles")" = /etc/lwgate/lwgated.toml ]; then
  pass "conffiles: /etc/lwgate/lwgated.toml"
else
  fail "conffiles: $(cat "$tmp/control/conffiles" 2>&1)"
fi
for script in postinst prerm postrm; do
  if [ -x "$tmp/control/$script" ] && sh -n "$tmp/control/$script"; then
    pass "$script is an executable shell script"
  else
    fail "$script missing, not executable or not valid sh"
  fi
done

# --- contents -----------------------------------------------------------------------------
# Every file the package holds, with owner and mode. A new file must be added here on purpose.
expected="-rw-r--r-- root/root ./etc/lwgate/lwgated.toml
-rw-r--r-- root/root ./lib/systemd/system/lwgated.service
-rwxr-xr-x root/root ./usr/bin/lwgatectl
-rw-r--r-- root/root ./usr/lib/sysusers.d/lwgate.conf
-rwxr-xr-x root/root ./usr/sbin/lwgated
-rw-r--r-- root/root ./usr/share/bash-completion/completions/lwgatectl
-rw-r--r-- root/root ./usr/share/dbus-1/system-services/org.lwgate.Gateway1.service
-rw-r--r-- root/root ./usr/share/dbus-1/system.d/org.lwgate.Gateway1.conf
-rw-r--r-- root/root ./usr/share/man/man1/lwgatectl.1
-rw-r--r-- root/root ./usr/share/man/man8/lwgated.8"
actual=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | LC_ALL=C sort -k3)
if [ "$actual" = "$expected" ]; then
  pass "contents: exactly the 10 expected files, owners and modes"
else
  fail "contents differ (- expected, + actual):"
  diff <(echo "$expected") <(echo "$actual") || true
fi

# --- install into a throw-away root ---------------------------------------------------------
root=$tmp/root
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
  touch "$root/var/lib/dpkg/status"
  # chrootless: the maintainer scripts run with this machine's tools and DPKG_ROOT=$root, so
  # systemd-sysusers and deb-systemd-helper act on $root only; --force-depends: $root has no
  # libraries registered (the binary runs with this machine's).
  dpkg_root() {
    dpkg --root="$root" --force-script-chrootless --force-depends --force-confold "$@" \
      >>"$tmp/dpkg.log" 2>&1
  }
  if dpkg_root --install "$deb"; then
    pass "dpkg --root installed it (maintainer scripts ran)"
  else
    fail "dpkg --root --install:"
    cat "$tmp/dpkg.log"
    exit 1
  fi
  grep -q '^lwgate:x:[0-9]*:[0-9]*:[^:]*:/var/lib/lwgate:' "$root/etc/passwd" &&
    grep -q '^lwgate:x:' "$root/etc/group" &&
    pass "postinst created user and group lwgate (home /var/lib/lwgate)" ||
    fail "no user/group lwgate in $root/etc/passwd, group"
  [ -L "$root/etc/systemd/system/multi-user.target.wants/lwgated.service" ] &&
    [ -L "$root/etc/systemd/system/dbus-org.lwgate.Gateway1.service" ] &&
    pass "postinst enabled lwgated.service and its D-Bus alias" ||
    fail "lwgated.service not enabled under $root/etc/systemd/system"
  status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Status}' lwgate)
  [ "$status" = installed ] && pass "dpkg status: installed" || fail "dpkg status: $status"
else
  echo "note: not root, so dpkg -x instead of dpkg --root (no maintainer scripts, no upgrade)"
  dpkg-deb -x "$deb" "$root"
fi

# --- the installed binary -------------------------------------------------------------------
lwgated=$root/usr/sbin/lwgated
if out=$("$lwgated" --version 2>&1) && [[ "$out" == "lwgated "* ]]; then
  pass "installed lwgated --version: $out"
else
  fail "installed lwgated --version: $out"
fi
if out=$("$root/usr/bin/lwgatectl" --version 2>&1) && [[ "$out" == "lwgatectl "* ]]; then
  pass "installed lwgatectl --version: $out"
else
  fail "installed lwgatectl --version: $out"
fi
if out=$("$lwgated" --check-config "$root/etc/lwgate/lwgated.toml" 2>&1); then
  pass "installed lwgated --check-config installed lwgated.toml: $out"
else
  fail "installed lwgated --check-config: $out"
fi
# Start it with the installed configuration (database and port redirected), wait for the
# ready message, stop it with SIGTERM.
exec {log}<> <(:)
"$lwgated" --config "$root/etc/lwgate/lwgated.toml" --db "$tmp/smoke.db" \
  --listen 127.0.0.1:0 2>&"$log" &
daemon_pid=$!
ready=""
while read -r -t 20 -u "$log" line; do
  echo "     $line" >>"$tmp/smoke.log"
  if [[ "$line" == *LWG1000* ]]; then
    ready=yes
    break
  fi
done
if [ -n "$ready" ]; then
  kill -TERM "$daemon_pid"
  if wait "$daemon_pid"; then
    pass "installed lwgated started (LWG1000) and stopped cleanly on SIGTERM"
  else
    fail "installed lwgated exited $? after SIGTERM"
  fi
else
  fail "installed lwgated did not get ready:"
  cat "$tmp/smoke.log"
fi
daemon_pid=""

# --- upgrade and purge (root only) ---------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  echo '# changed by the administrator' >>"$root/etc/lwgate/lwgated.toml"
  systemctl --root="$root" --quiet disable lwgated.service
  mkdir -p "$root/var/lib/lwgate"
  echo state >"$root/var/lib/lwgate/lwgate.db"
  if dpkg_root --install "$deb"; then
    pass "dpkg --root reinstalled it (upgrade path)"
  else
    fail "dpkg --root reinstall:"
    cat "$tmp/dpkg.log"
  fi
  grep -q '^# changed by the administrator' "$root/etc/lwgate/lwgated.toml" &&
    pass "upgrade kept the changed conffile" || fail "upgrade overwrote /etc/lwgate/lwgated.toml"
  [ ! -e "$root/etc/systemd/system/multi-user.target.wants/lwgated.service" ] &&
    pass "upgrade kept lwgated.service disabled" || fail "upgrade re-enabled lwgated.service"

  dpkg_root --remove lwgate || fail "dpkg --root --remove"
  [ ! -e "$root/usr/sbin/lwgated" ] && [ -f "$root/etc/lwgate/lwgated.toml" ] &&
    [ -f "$root/var/lib/lwgate/lwgate.db" ] &&
    pass "remove took the program and kept the configuration and the database" ||
    fail "remove: wrong files left"
  dpkg_root --purge lwgate || fail "dpkg --root --purge"
  leftovers=$(cd "$root" && find etc/lwgate etc/systemd var/lib/lwgate var/lib/systemd lib usr \
    -mindepth 1 ! -type d 2>/dev/null || true)
  if [ -z "$leftovers" ] && [ ! -e "$root/etc/lwgate" ] && [ ! -e "$root/var/lib/lwgate" ]; then
    pass "purge left no files of lwgate behind (the user stays, as Debian does)"
  else
    fail "purge left: $leftovers"
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  [ -f "$tmp/dpkg.log" ] && cat "$tmp/dpkg.log"
  exit 1
fi
echo "the Debian package is fine"
