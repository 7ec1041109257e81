#!/usr/bin/env bash
# Sets up, builds and runs lwgated in the foreground with a development setup: a local SQLite
# file (./lwgate.db), CoAP on 127.0.0.1:5683, no modem. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec ./build/gateway/daemon/lwgated --db ./lwgate.db --listen 127.0.0.1:5683 "$@"
