#!/usr/bin/env bash
# Installs what lwgate needs to build, run and test on Debian 12 (bookworm). Idempotent.
# Runs apt-get as root; as another user it uses sudo.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries (DESIGN.md: all from Debian 12)
  libcoap3-dev libgnutls28-dev libsqlite3-dev libsystemd-dev libtomlplusplus-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libsdbus-c++-dev libsdbus-c++-bin
  # the modem (SMS): libgammu; its command line tool is handy to look at a modem by hand
  libgammu-dev gammu
  # tests: GoogleTest, CoAP peers nobody here wrote (coap-client-notls, coap-client-gnutls for
  # DTLS-PSK), sqlite3 CLI, dbus
  libgtest-dev libgmock-dev libcoap3-bin sqlite3 python3 clang-format git dbus-daemon
  # service and packaging tests (tests/packaging): systemd-analyze, systemd-sysusers, a private
  # dbus-daemon and dbus-send, the .deb (dpkg-shlibdeps), the man page (man, groff), kill; the
  # package booted under a real systemd (systemd_boot_test.sh): the system bus's units (dbus),
  # unshare and nsenter (util-linux)
  systemd dbus-bin dpkg-dev man-db groff-base procps dbus util-linux
  # fuzzing (scripts/fuzz.sh): clang, libFuzzer and clang's ASan/UBSan runtimes, llvm-symbolizer
  # for readable stack traces. The sanitizer build of the tests uses g++'s own (libasan8, libubsan1)
  clang libclang-rt-14-dev llvm-14
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Node.js and npm run the third-party LwM2M peers of the e2e tests (tests/interop). Machines that
# already have a node (some images ship their own) keep it.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
