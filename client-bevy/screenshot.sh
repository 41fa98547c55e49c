#!/usr/bin/env bash
# Renders the Bevy client under Xvfb with software Vulkan (Mesa's lavapipe) against a local
# server with bots, saves a screenshot and prints the client's frame rate.
#
#   client-bevy/screenshot.sh [OUT.png]
#
# Environment (all optional):
#   BOTS=8           bots besides the client
#   SECS=8           seconds before the screenshot (and exit)
#   VIEW_RADIUS=700  server view radius (3000 puts every player in view)
#   LAG_MS=0         simulated latency each way in the client (--lag-ms)
#   OVERLAY=1        start with the F3 netcode overlay shown
#   AUTOPILOT=1      let the client's player wander and shoot
#   ZOOM=1           world units per pixel (2 shows the whole arena)
#   PORT=7410        server port
#   BOTS_BIN=path    a prebuilt `bots` binary (default: build tickwire-bench's)
# Needs: xvfb mesa-vulkan-drivers libvulkan1 (installed with apt-get when missing and root).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-docs/screenshots/bevy.png}"
BOTS="${BOTS:-8}"
SECS="${SECS:-8}"
VIEW_RADIUS="${VIEW_RADIUS:-700}"
LAG_MS="${LAG_MS:-0}"
OVERLAY="${OVERLAY:-1}"
AUTOPILOT="${AUTOPILOT:-1}"
ZOOM="${ZOOM:-1}"
PORT="${PORT:-7410}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if ! command -v Xvfb >/dev/null || ! dpkg -s mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y xvfb mesa-vulkan-drivers libvulkan1
    else
        echo "needs: apt-get install -y xvfb mesa-vulkan-drivers libvulkan1" >&2
        exit 2
    fi
fi

cargo build --release -p tickwire-server -p tickwire-client-bevy
if [ -z "${BOTS_BIN:-}" ]; then
    # Its own command: `--bin bots` next to the other packages would build only `bots`.
    cargo build --release -p tickwire-bench --bin bots
    BOTS_BIN="$CARGO_TARGET_DIR/release/bots"
fi
BIN="$CARGO_TARGET_DIR/release"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

"$BIN/tickwire" --addr "127.0.0.1:$PORT" --view-radius "$VIEW_RADIUS" >/tmp/tickwire-shot-server.log 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

"$BOTS_BIN" --url "ws://127.0.0.1:$PORT/ws" --bots "$BOTS" --duration "$((SECS + 30))s" \
    --chat-interval 3s --quiet >/tmp/tickwire-shot-bots.log 2>&1 &
PIDS+=($!)

DISPLAY_NUM=":${XVFB_DISPLAY:-99}"
Xvfb "$DISPLAY_NUM" -screen 0 1280x720x24 -nolisten tcp >/tmp/tickwire-shot-xvfb.log 2>&1 &
PIDS+=($!)
sleep 1

mkdir -p "$(dirname "$OUT")"
FLAGS=(--url "ws://127.0.0.1:$PORT/ws" --name alice --lag-ms "$LAG_MS" --zoom "$ZOOM"
       --screenshot "$OUT" --exit-after "$SECS")
[ "$OVERLAY" = 1 ] && FLAGS+=(--debug-overlay)
[ "$AUTOPILOT" = 1 ] && FLAGS+=(--autopilot)
DISPLAY="$DISPLAY_NUM" WGPU_BACKEND=vulkan "$BIN/tickwire-client-bevy" "${FLAGS[@]}" \
    2>/tmp/tickwire-shot-client.log | tee /tmp/tickwire-shot-client.out
grep -E "frame rate|corrections" /tmp/tickwire-shot-client.log | tail -5 || true
echo "screenshot: $OUT"
