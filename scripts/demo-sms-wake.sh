#!/usr/bin/env bash
# The SMS wake-up, end to end, without hardware (README "Demo: waking a sleeping device by SMS"):
#
#   - a private D-Bus daemon, so nothing touches the system bus;
#   - a modem: tests/modem/at_modem_sim.py, an AT-command modem on a pseudo-terminal, driven by
#     gammu's real AT driver inside lwgated (it records every SMS it is given);
#   - lwgated with [modem] backend = "gammu" on 127.0.0.1 (a free port);
#   - a sleeping device: lwgate-sim in queue mode with an SMS number;
#   - lwgatectl read --urgent queues a Read; lwgated sends the Registration Update Trigger SMS
#     (CoAP POST /1/0/8), lwgatectl sms log shows it; the modem simulator hands it over and the
#     SMS centre's delivery report comes back; the device wakes (the simulator sends its Update,
#     as a real device would on that SMS) and the Read completes.
#
# Usage: scripts/demo-sms-wake.sh [BUILD_DIR]     (default ./build; scripts/build.sh makes it)
# Exits 0 when the Read completed with 2.05 and the SMS log shows the trigger delivered; the e2e
# test demo_sms_wake runs it so this stays true. Everything runs in a temporary directory that
# is removed at the end (KEEP=1 keeps it, with the logs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
lwgated=$build/gateway/daemon/lwgated
lwgatectl=$build/cli/lwgatectl
sim=$build/tests/sim/lwgate-sim
for program in "$lwgated" "$lwgatectl" "$sim"; do
  if [ ! -x "$program" ]; then
    echo "demo: $program is missing; build first (scripts/build.sh)" >&2
    exit 1
  fi
done
for tool in python3 dbus-daemon; do
  if ! command -v "$tool" >/dev/null; then
    echo "demo: $tool is missing (scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/lwgate-demo.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "demo: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
# show CMD...: prints the command as a user would type it, then runs it.
show() {
  printf '$ %s\n' "$*"
  "$@"
}
# The programs by the names the README uses.
lwgatectl() { "$build/cli/lwgatectl" "$@"; }
lwgate-sim() { "$build/tests/sim/lwgate-sim" "$@"; }
failed() {
  echo "demo: $*" >&2
  echo "--- lwgated log (tail) ---" >&2
  tail -n 40 "$work/lwgated.log" >&2 || true
  exit 1
}
# wait_for WHAT SECONDS CMD...: runs CMD every 0.1 s until it succeeds, at most SECONDS.
wait_for() {
  local what=$1 limit=$2
  shift 2
  local tries=$((limit * 10))
  until "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || failed "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}
# json_field EXPR: the Python expression EXPR over the JSON document on stdin (as j).
json_field() { python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"; }

number=+4915112345678
endpoint=demo-sensor

step "A private D-Bus daemon (lwgatectl and lwgated meet there, not on the system bus)"
cat >"$work/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$work/bus.conf" --nofork --print-address >"$work/bus.out" 2>&1 &
pids+=($!)
wait_for "the bus" 10 test -S "$work/bus"
export LWGATE_BUS="unix:path=$work/bus"
echo "LWGATE_BUS=$LWGATE_BUS"

step "A simulated AT modem on a pseudo-terminal (tests/modem/at_modem_sim.py)"
python3 "$root/tests/modem/at_modem_sim.py" --link "$work/modem" --pdus "$work/pdus" \
  --control "$work/control" >"$work/modem.log" 2>&1 &
pids+=($!)
wait_for "the modem simulator" 20 grep -q '^ready ' "$work/modem.log"
head -n 1 "$work/modem.log"
cat >"$work/gammurc" <<EOF
[gammu]
device = $work/modem
connection = at
EOF

step "lwgated with the modem (gammu's AT driver), a 2 s awake window, CoAP on a free port"
cat >"$work/lwgated.toml" <<EOF
[queue]
awake_window = 2
[modem]
backend = "gammu"
gammu_config = "$work/gammurc"
poll_interval = 1
EOF
cat "$work/lwgated.toml"
"$lwgated" --config "$work/lwgated.toml" --db "$work/lwgate.db" --listen 127.0.0.1:0 \
  --bus "$LWGATE_BUS" >"$work/lwgated.log" 2>&1 &
pids+=($!)
wait_for "lwgated on the bus" 20 lwgatectl status
wait_for "the modem to connect" 30 grep -q 'LWG5000 modem connected' "$work/lwgated.log"
url=$(grep -o 'LWG1002 listening on coap://[0-9.:]*' "$work/lwgated.log" | head -n 1 |
  sed 's/.*listening on //')
show lwgatectl modem

step "A sleeping device: queue mode, SMS number $number, its next regular Update an hour away"
show lwgate-sim --server "$url" --ep "$endpoint" --queue --sms "$number" --lt 3600 \
  register 2>"$work/register.err" | tee "$work/register.out"
location=$(grep -o 'location=[^ ]*' "$work/register.out" | head -n 1 | cut -d= -f2)
[ -n "$location" ] || failed "the device did not register"
# It said nothing more: its awake window runs out and it counts as asleep.
asleep() { lwgatectl show "$endpoint" --json | json_field 'j["awake"]' | grep -qx False; }
wait_for "the device to fall asleep" 10 asleep
show lwgatectl list

step "Queue a Read; --urgent: wake it now instead of waiting an hour for its Update"
echo "\$ lwgatectl read $endpoint /3/0 --urgent"
id=$(lwgatectl read "$endpoint" /3/0 --urgent)
echo "$id"
show lwgatectl request "$id"

step "lwgated sends the Registration Update Trigger SMS (CoAP POST /1/0/8) through the modem"
sent_status() {
  lwgatectl sms log "$endpoint" --json | json_field 'j[-1]["status"] if j else ""' |
    grep -qx "$1"
}
wait_for "the trigger SMS to be sent" 30 sent_status sent
show lwgatectl sms log
echo "the modem was given $(wc -l <"$work/pdus") SMS (PDU, hex): $(head -c 60 "$work/pdus")..."

step "The SMS centre reports it delivered (the simulator's +CDS status report)"
reference=$(lwgatectl sms log "$endpoint" --json | json_field 'j[-1]["reference"]')
echo "status-report $reference 0 $number" >"$work/control"
wait_for "the delivery report" 30 sent_status delivered
show lwgatectl sms log "$endpoint"

step "The device wakes on the SMS and sends its Update; the queued Read goes out and completes"
lwgate-sim --server "$url" --ep "$endpoint" --queue --sms "$number" --lt 3600 \
  --location "$location" update awake=20 >"$work/wake.out" 2>&1 &
pids+=($!)
show lwgatectl request "$id" --wait --timeout 60 || failed "the Read did not complete"

step "Done: one trigger SMS, delivered; the Read answered 2.05"
show lwgatectl sms log
