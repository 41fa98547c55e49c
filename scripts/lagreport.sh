#!/usr/bin/env bash
# The netcode report over real TCP: the real server and three real clients (bench's lagreport
# binary) under ../shared/lag/lag.sh, one row per link and TCP setting, printed as the markdown
# table of docs/NETCODE.md. Needs root and `apt-get install -y iptables` (lag.sh's nfq engine).
#
#   scripts/lagreport.sh            # every row, 45 s each (about 6 minutes)
#   SECONDS_PER_ROW=20 scripts/lagreport.sh
#   ROWS="200:20:1:cubic:0" scripts/lagreport.sh   # rtt_ms:jitter_ms:loss_pct:congestion:notsent_lowat[:transport]
#   ROWS="200:20:1:-:0:webtransport" scripts/lagreport.sh   # over WebTransport datagrams
#   ROWS="200:20:1:cubic:0:websocket-mirror:2" scripts/lagreport.sh   # 1 + 2 mirrored TCP connections
#
# Congestion control and TCP_NOTSENT_LOWAT are set per socket on the server
# (--tcp-congestion, --tcp-notsent-lowat: setsockopt, so any congestion control the kernel has,
# not only those in net.ipv4.tcp_allowed_congestion_control); the server's default is cubic,
# "-" keeps the namespace's (--tcp-congestion system).
# The clients run with the namespace default (the host's, bbr here). The row says which.
# TCP_NODELAY is always on (the server sets it on every accepted socket, the client too).
set -euo pipefail
cd "$(dirname "$0")/.."
LAG=${LAG:-../shared/lag/lag.sh}
SECS=${SECONDS_PER_ROW:-45}
PROFILE=${PROFILE:-dev}
ROWS=${ROWS:-"0:0:0:-:0 200:20:0:-:0 200:20:0:cubic:0 200:20:1:-:0 200:20:1:cubic:0 200:20:1:cubic:16384 0:0:0:-:0:webtransport 200:20:0:-:0:webtransport 200:20:1:-:0:webtransport"}
cargo build -q --profile "$PROFILE" -p tickwire-server --bin tickwire -p tickwire-bench --bin lagreport
DIR=${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
header=--header
for row in $ROWS; do
  IFS=: read -r rtt jitter loss cc lowat transport mirrors <<<"$row"
  transport=${transport:-websocket}
  mirrors=${mirrors:-1}
  label="$rtt ms RTT, jitter $jitter ms, loss $loss%"
  if [ "$transport" = websocket-mirror ]; then
    label="$label, websocket + $mirrors mirror$([ "$mirrors" = 1 ] || echo s)"
  elif [ "$transport" != websocket ]; then
    label="$label, $transport"
  fi
  [ "$lowat" != 0 ] && label="$label, notsent_lowat $lowat"
  extra=()
  extra+=("--server-arg=--tcp-congestion=$([ "$cc" = - ] && echo system || echo "$cc")")
  [ "$lowat" != 0 ] && extra+=("--server-arg=--tcp-notsent-lowat=$lowat")
  "$LAG" --quiet --rtt-ms "$rtt" --jitter-ms "$jitter" --loss-pct "$loss" --seed 19 -- \
    "$DIR/lagreport" --seconds "$SECS" --label "$label" --transport "$transport" --mirrors "$mirrors" \
    $header "${extra[@]}"
  header=
done
