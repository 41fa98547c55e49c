#!/usr/bin/env bash
# Runs every browser-client test: the unit and codec-conformance tests (node --test), then the
# end-to-end tests against the real server in headless Chromium. Expects `npm ci` to have run in
# this directory and Debian's chromium at /usr/bin/chromium (or CHROMIUM_PATH).
set -euo pipefail
cd "$(dirname "$0")"

echo "== client-web: unit and codec tests"
node --test test/*.test.js

echo "== client-web: build the server for the end-to-end tests"
# The e2e harness builds it itself when TICKWIRE_BIN is unset; building once here keeps the
# cargo output out of the test report.
TICKWIRE_BIN="$(cd .. && cargo build -p tickwire-server --bin tickwire --message-format=json \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){if(!l.startsWith("{"))continue;const m=JSON.parse(l);if(m.reason==="compiler-artifact"&&m.executable&&m.target.name==="tickwire")console.log(m.executable)}})')"
export TICKWIRE_BIN
echo "server binary: $TICKWIRE_BIN"

echo "== client-web: end-to-end in headless Chromium"
node --test --test-concurrency=1 test/e2e/
