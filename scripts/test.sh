#!/usr/bin/env bash
# Runs every test of the project: the whole Rust workspace (shared, server, client-net, bench
# and the Bevy client's headless tests), then the browser client's tests (codec conformance
# against the Rust golden vectors, netcode unit tests, end-to-end play in headless Chromium).
# Needs Node 20, Debian's chromium (`apt-get install chromium`), PostgreSQL's server binaries
# (`apt-get install postgresql`) and Redis and nginx (`apt-get install redis-server nginx`), the
# last three installed here when run as root; installs client-web's npm
# packages on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

# The storage and persistence tests start real PostgreSQL servers of their own (a temp data dir,
# a loopback port), so they need PostgreSQL's server binaries.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${TICKWIRE_PG_BIN:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing PostgreSQL for the storage tests (apt-get install postgresql)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  else
    echo "The storage tests need PostgreSQL's server binaries (initdb, postgres):" >&2
    echo "  sudo apt-get install postgresql   (or set TICKWIRE_PG_BIN to their directory)" >&2
    exit 1
  fi
fi

# The cluster tests start real redis-server and nginx processes of their own (loopback ports,
# temp dirs; nothing under /etc is used).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v nginx >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Redis and nginx for the cluster tests (apt-get install redis-server nginx)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nginx
  else
    echo "The cluster tests need redis-server and nginx on the PATH:" >&2
    echo "  sudo apt-get install redis-server nginx" >&2
    exit 1
  fi
fi

# The browser's WebTransport fallback test drops the server's UDP port with iptables.
if ! command -v iptables >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing iptables for the WebTransport fallback test (apt-get install iptables)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables
  else
    echo "The WebTransport fallback test needs root and iptables:" >&2
    echo "  sudo apt-get install iptables   (and run the tests as root)" >&2
    exit 1
  fi
fi

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
