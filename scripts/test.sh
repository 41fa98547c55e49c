#!/usr/bin/env bash
# Runs every test of the project: the whole Rust workspace (shared, server, client-net, bench
# and the Bevy client's headless tests), then the browser client's tests (codec conformance
# against the Rust golden vectors, netcode unit tests, end-to-end play in headless Chromium).
# Needs Node 20 and Debian's chromium (`apt-get install chromium`); installs client-web's npm
# packages on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace

if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "The browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)," >&2
  echo "or CHROMIUM_PATH pointing at a Chromium binary." >&2
  exit 1
fi
if [ ! -d client-web/node_modules ]; then
  (cd client-web && npm ci --no-audit --no-fund)
fi
client-web/run-tests.sh
