#!/usr/bin/env bash
# The Debian package under a real systemd: builds the .deb (cpack, no compiling), boots systemd
# as PID 1 of fresh PID, mount, network, UTS and IPC namespaces whose root is an overlay of this
# machine's / with a throw-away upper layer, installs the package there with dpkg (sysusers,
# enable), and checks what a router integrator relies on:
#
#   - lwgated.service starts (Type=notify: active only after READY=1) as user lwgate with the
#     unit's whole hardening, the database in /var/lib/lwgate with mode 0600;
#   - lwgatectl as root works; as an unprivileged user reading works, calling a method is refused
#     with exit 5 and a message naming group lwgate; a member of group lwgate may call;
#   - a device (lwgate-sim) registers and a Read completes; `systemctl reload` reloads;
#   - D-Bus activation: a bus call to a stopped lwgated starts it;
#   - an AT modem (tests/modem/at_modem_sim.py on a pseudo-terminal of group dialout) is driven
#     by gammu inside the sandbox: a sleeping device's urgent Read sends the trigger SMS;
#   - the watchdog: a stopped (SIGSTOP) lwgated is killed and restarted by systemd.
#
# Nothing of this machine changes: the overlay's upper layer, /run, /tmp and /dev are tmpfs or a
# new devpts instance inside the mount namespace, sysctl/udev/module units are masked, and the
# whole namespace dies with its PID 1 (SIGKILL at exit). Needs root, unshare, overlayfs,
# systemd and dpkg; otherwise it skips (exit 77).
#
#   systemd_boot_test.sh BUILD_DIR SOURCE_DIR
# No pipefail: `cmd | grep -q` would fail whenever grep's early exit gives cmd a SIGPIPE.
set -u

build=$(realpath "$1")
src=$(realpath "$2")

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (it boots systemd in namespaces)"
for tool in unshare nsenter cpack dpkg python3; do
  command -v "$tool" >/dev/null || skip "$tool is missing"
done
[ -x /lib/systemd/systemd ] || skip "/lib/systemd/systemd is missing (package systemd)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "no overlayfs in this kernel"
unshare --mount --pid --fork --net --uts --ipc true 2>/dev/null ||
  skip "this machine does not let root create namespaces (unshare failed)"

tmp=$(mktemp -d)
init_pid=""
cleanup() {
  # SIGKILL to the namespace's PID 1 ends every process in it; its mounts go with it.
  [ -n "$init_pid" ] && kill -9 "$init_pid" 2>/dev/null
  [ -n "${unshare_pid:-}" ] && wait "$unshare_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  echo "FAIL cpack:"
  cat "$tmp/cpack.log"
  exit 1
fi
debs=("$tmp"/out/lwgate_*.deb)
[ -f "${debs[0]}" ] || { echo "FAIL no .deb"; exit 1; }
cp "${debs[0]}" "$tmp/lwgate.deb"

# --- the namespace's PID 1: overlay root, then systemd ------------------------------------------
cat >"$tmp/prepare.sh" <<'EOF'
#!/bin/bash
# Inside the new root, before systemd: only what the test needs starts.
set -e
for f in /etc/systemd/system/*.wants/*; do rm -f "$f"; done
for u in systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket \
  systemd-udev-trigger.service systemd-udev-settle.service systemd-sysctl.service \
  systemd-modules-load.service systemd-binfmt.service systemd-timesyncd.service \
  systemd-tmpfiles-clean.timer systemd-journald-audit.socket systemd-random-seed.service \
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
  cron.service ssh.service getty@.service console-getty.service apt-daily.timer \
  apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer; do
  ln -sf /dev/null "/etc/systemd/system/$u"
done
cat >/etc/systemd/system/lwgate-test.target <<T
[Unit]
Description=lwgate boot test
Requires=basic.target dbus.socket
Wants=lwgated.service
After=basic.target
T
# policy-rc.d may forbid starting services from maintainer scripts; systemd starts it below.
DEBIAN_FRONTEND=noninteractive dpkg -i /lwgate.deb
useradd --create-home --user-group alice
useradd --create-home --user-group --groups lwgate bob
EOF
cat >"$tmp/init.sh" <<EOF
#!/bin/bash
set -e
base=$tmp/ns
mkdir -p \$base
mount -t tmpfs tmpfs \$base
mkdir -p \$base/upper \$base/work \$base/root
mount -t overlay overlay -o lowerdir=/,upperdir=\$base/upper,workdir=\$base/work \$base/root
r=\$base/root
mount -t proc proc \$r/proc
mount --bind \$r/proc/sys \$r/proc/sys
mount -o remount,bind,ro \$r/proc/sys
mount -t sysfs -o ro sysfs \$r/sys
mount -t tmpfs -o mode=755 tmpfs \$r/sys/fs/cgroup
mount -t tmpfs -o mode=755 tmpfs \$r/dev
for n in null zero full random urandom tty; do
  touch \$r/dev/\$n
  mount --bind /dev/\$n \$r/dev/\$n
done
mkdir -p \$r/dev/pts \$r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts \$r/dev/pts
ln -s pts/ptmx \$r/dev/ptmx
mount -t tmpfs tmpfs \$r/run
mount -t tmpfs tmpfs \$r/tmp
# The build and the sources, at the same paths (they may live on another file system).
mkdir -p \$r$build \$r$src
mount --bind $src \$r$src
mount --bind $build \$r$build
cp $tmp/lwgate.deb \$r/lwgate.deb
cp $tmp/prepare.sh \$r/prepare.sh
chroot \$r /bin/bash /prepare.sh >$tmp/prepare.log 2>&1
mkdir -p \$r/.oldroot
cd \$r
# pivot_root, not chroot: a chrooted process may not create user namespaces (PrivateUsers=).
pivot_root . .oldroot
export container=lwgate-test
exec /bin/bash -c 'umount -l /.oldroot; exec /lib/systemd/systemd --system --unit=lwgate-test.target --log-target=journal'
EOF
chmod +x "$tmp/init.sh"
unshare --mount --pid --fork --net --uts --ipc --propagation private "$tmp/init.sh" \
  >"$tmp/init.log" 2>&1 </dev/null &
unshare_pid=$!

# inside CMD...: runs CMD in the namespaces, in the new root.
inside() { nsenter -t "$init_pid" -a -r -w "$@"; }
# until_ok SECONDS CMD...: runs CMD every 0.2 s until it succeeds, at most SECONDS.
until_ok() {
  local limit=$(($1 * 5))
  shift
  for _ in $(seq "$limit"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
find_init() {
  init_pid=$(pgrep -P "$unshare_pid" | head -n1)
  [ -n "$init_pid" ] && [ "$(cat /proc/"$init_pid"/comm 2>/dev/null)" = systemd ]
}
if ! until_ok 60 find_init; then
  echo "FAIL systemd did not start as the namespace's PID 1"
  cat "$tmp/init.log" "$tmp/prepare.log" 2>/dev/null | tail -n 30
  exit 1
fi
booted() {
  local state
  state=$(inside systemctl is-system-running 2>/dev/null)
  [ "$state" = running ] || [ "$state" = degraded ]
}
if until_ok 90 booted; then
  pass "systemd booted in the namespaces ($(inside systemctl is-system-running 2>&1))"
else
  fail "systemd did not finish booting: $(inside systemctl is-system-running 2>&1)"
  inside systemctl --failed --no-pager
fi
journal() { inside journalctl -u lwgated --no-pager -o cat 2>/dev/null; }

# --- the service ---------------------------------------------------------------------------------
if until_ok 60 inside systemctl is-active --quiet lwgated; then
  pass "lwgated.service is active (Type=notify: READY=1 came)"
else
  fail "lwgated.service not active: $(inside systemctl status lwgated --no-pager 2>&1 | tail -n 15)"
fi
user=$(inside ps -o user= -p "$(inside systemctl show -p MainPID --value lwgated)" 2>/dev/null)
[ "$user" = lwgate ] && pass "it runs as user lwgate" || fail "it runs as '$user'"
mode=$(inside stat -c '%U %a' /var/lib/lwgate/lwgate.db 2>&1)
[ "$mode" = "lwgate 600" ] && pass "/var/lib/lwgate/lwgate.db: owner lwgate, mode 0600" ||
  fail "/var/lib/lwgate/lwgate.db: $mode"

# --- lwgatectl and the bus policy ----------------------------------------------------------------
inside lwgatectl status >/dev/null 2>&1 && pass "lwgatectl status as root" ||
  fail "lwgatectl status as root: $(inside lwgatectl status 2>&1)"
inside runuser -u alice -- lwgatectl list >/dev/null 2>&1 &&
  pass "an unprivileged user may list" || fail "alice cannot list"
out=$(inside runuser -u alice -- lwgatectl read nobody /3/0 2>&1)
rc=$?
if [ "$rc" -eq 5 ] && [[ "$out" == *"group lwgate"* ]]; then
  pass "an unprivileged user's Read is refused: exit 5, '$out'"
else
  fail "alice's Read: exit $rc, $out"
fi
out=$(inside runuser -u bob -- lwgatectl read nobody /3/0 2>&1)
rc=$?
[ "$rc" -eq 4 ] && pass "a member of group lwgate may call (exit 4: no such device)" ||
  fail "bob's Read: exit $rc, $out"

# --- a device, a Read, a reload ------------------------------------------------------------------
sim=$build/tests/sim/lwgate-sim
inside setsid "$sim" --server coap://127.0.0.1:5683 --ep boot-dev register awake=600 \
  >"$tmp/sim.log" 2>&1 </dev/null &
if until_ok 20 inside lwgatectl show boot-dev; then
  out=$(inside lwgatectl read boot-dev /3/0/0 --wait --timeout 20 2>&1)
  [[ "$out" == *"done: 2.05"* ]] && pass "a registered device answers a Read through the service" ||
    fail "Read: $out"
else
  fail "the simulated device did not register: $(cat "$tmp/sim.log")"
fi
reloaded() { journal | grep LWG1008 >/dev/null; }
inside systemctl reload lwgated
until_ok 10 reloaded &&
  pass "systemctl reload: LWG1008 configuration reloaded" || fail "no LWG1008 after reload"

# --- D-Bus activation ----------------------------------------------------------------------------
inside systemctl stop lwgated
inside busctl call org.lwgate.Gateway1 /org/lwgate/Gateway1 org.freedesktop.DBus.Peer Ping \
  >/dev/null 2>&1
until_ok 30 inside systemctl is-active --quiet lwgated &&
  pass "a bus call to the stopped service started it (D-Bus activation)" ||
  fail "D-Bus activation: $(inside systemctl is-active lwgated)"

# --- the modem, driven by gammu inside the sandbox -----------------------------------------------
inside bash -c "setsid python3 $src/tests/modem/at_modem_sim.py --link /run/modem \
  --pdus /root/pdus --control /root/control >/root/modem.log 2>&1 </dev/null &"
if until_ok 20 inside grep -q '^ready' /root/modem.log; then
  inside bash -c 'chgrp dialout "$(readlink -f /run/modem)" && chmod 660 "$(readlink -f /run/modem)"'
  inside bash -c 'printf "[gammu]\ndevice = /run/modem\nconnection = at\n" >/etc/lwgate/gammurc
    sed -i "s|^\[modem\]|[modem]\nbackend = \"gammu\"\ngammu_config = \"/etc/lwgate/gammurc\"\npoll_interval = 1|;
            s|^\[queue\]|[queue]\nawake_window = 2|" /etc/lwgate/lwgated.toml'
  inside systemctl restart lwgated
  connected() { inside lwgatectl modem | grep 'State: connected' >/dev/null; }
  if until_ok 40 connected; then
    pass "gammu drives the modem tty (group dialout) inside the sandbox"
    inside "$sim" --server coap://127.0.0.1:5683 --ep sleepy --queue --sms +4915112345678 \
      --lt 3600 register >"$tmp/sleepy.log" 2>&1
    asleep() { inside lwgatectl show sleepy --json | grep '"awake": *false' >/dev/null; }
    until_ok 20 asleep || fail "sleepy did not fall asleep"
    inside lwgatectl read sleepy /3/0 --urgent >/dev/null 2>&1
    trigger_sent() { inside lwgatectl sms log sleepy | grep ' sent ' >/dev/null; }
    if until_ok 30 trigger_sent; then
      pass "an urgent Read for a sleeping device sent the trigger SMS through the modem"
    else
      fail "no trigger SMS sent: $(inside lwgatectl sms log 2>&1)"
    fi
  else
    fail "the modem did not connect: $(inside lwgatectl modem 2>&1 | tail -n 1)"
  fi
else
  fail "the modem simulator did not start: $(inside cat /root/modem.log 2>&1)"
fi

# --- the watchdog --------------------------------------------------------------------------------
main=$(inside systemctl show -p MainPID --value lwgated)
inside kill -STOP "$main"
restarted() {
  local now
  now=$(inside systemctl show -p MainPID --value lwgated)
  [ "$now" != "$main" ] && [ "$now" != 0 ] && inside systemctl is-active --quiet lwgated
}
if until_ok 90 restarted && journal | grep "Watchdog timeout" >/dev/null; then
  pass "a stopped event loop trips the watchdog; systemd restarted lwgated"
else
  fail "watchdog: MainPID $main -> $(inside systemctl show -p MainPID --value lwgated); $(journal | tail -n 3)"
fi

if [ "$failures" -ne 0 ]; then
  echo "--- journal of lwgated (tail) ---"
  journal | tail -n 30
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
