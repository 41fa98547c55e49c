#!/usr/bin/env bash
# Runs a named load scenario end to end: builds (release), starts the server, runs the bots,
# stops the server, and appends one row to bench/results/runs.tsv (the full JSON report goes
# to bench/results/<scenario>-<utc time>.json).
#
#   bash bench/run-load.sh SCENARIO        # smoke | default | active-1000 | connected-5000
#   DURATION=10s bash bench/run-load.sh default   # shorter hold while developing
#   SERVER_FLAGS="--view-radius 500" bash bench/run-load.sh default   # any other server flag
#   TRANSPORT=webtransport bash bench/run-load.sh idle-1000   # bots over WebTransport (the
#                                                  # server gets --webtransport)
#   TRANSPORT=websocket-mirror bash bench/run-load.sh default  # two WebSockets per bot
#   BOTS=300 bash bench/run-load.sh active-1000    # fewer bots, same flags
#   TLS=1 bash bench/run-load.sh idle-1000          # over wss:// (a CA and a certificate for
#                                                  # 127.0.0.1 made with openssl; /metrics and
#                                                  # /healthz from --admin-addr)
#
# Scenarios (server flags | bot flags):
#   smoke           20 bots, 5 s: a quick end-to-end check.
#   default         150 bots in the demo arena (30-50 players in each view), mixed behaviour,
#                   30 inputs/s: the bandwidth figure.
#   active-1000     1,000 bots, mixed, 30 inputs/s, arena scaled 3.2x (same density as default).
#   connected-5000  5,000 bots wandering at 2 inputs/s, arena scaled 7.1x: memory per connection.
#   idle-1000       1,000 joined bots that send nothing but pongs, acknowledgements and a ping
#                   every 10 s, held 60 s: memory per idle connection, per transport.
#   idle-5000       5,000 joined bots that send nothing but pongs and a ping every 10 s, held
#                   60 s; meanwhile a separate playing bot and /healthz are probed for
#                   responsiveness (written next to the JSON report as *.probe.json).
#   idle-100k       100,000 idle bots quick-matched into rooms of the default size (256), from
#                   127.0.0.2, 127.0.0.3, ... (25,000 each), held 60 s, with the same probe plus
#                   the kernel's socket memory (/proc/net/sockstat) and the load average. Where
#                   the open-file hard limit is lower (a process holds one descriptor per
#                   connection) it runs the largest count that fits, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario="${1:-}"
# A free loopback port unless PORT is given (other servers may be running on this machine).
port="${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
url="ws://127.0.0.1:${port}/ws"
server_flags=(--addr "127.0.0.1:${port}")
# Ticks between checksums (CHECKSUM_INTERVAL overrides the scenario's choice).
checksum_every=10
# Every bot connects from 127.0.0.1: lift the per-IP connection and seat limits (default 256
# and 64).
per_ip() { server_flags+=(--max-connections-per-ip $(($1 + 64)) --max-seats-per-ip $(($1 + 64))); }
case "$scenario" in
  smoke)
    bots=20; duration="${DURATION:-5s}"; per_ip "$bots"
    bot_flags=(--behaviour mixed --input-rate 30 --ramp 100 --chat-interval 2s) ;;
  default)
    bots=150; duration="${DURATION:-60s}"; per_ip "$bots"
    bot_flags=(--behaviour mixed --input-rate 30 --ramp 100) ;;
  active-1000)
    bots=1000; duration="${DURATION:-60s}"; per_ip "$bots"
    server_flags+=(--max-players 1100 --arena-scale 3.2)
    bot_flags=(--behaviour mixed --input-rate 30 --ramp 200) ;;
  connected-5000)
    bots=5000; duration="${DURATION:-60s}"; per_ip "$bots"
    server_flags+=(--max-players 5100 --arena-scale 7.1 --idle-timeout 60s --max-skipped-ticks 900)
    bot_flags=(--behaviour wander --input-rate 2 --ramp 250 --ping-interval 5s --connect-timeout 30s) ;;
  idle-1000)
    bots=1000; duration="${DURATION:-60s}"; per_ip "$bots"
    server_flags+=(--max-players 1100 --arena-scale 3.2 --idle-timeout 60s --max-skipped-ticks 900)
    bot_flags=(--behaviour idle --input-rate 0 --ramp 250 --ping-interval 10s --connect-timeout 30s) ;;
  idle-5000)
    bots=5000; duration="${DURATION:-60s}"; per_ip $((bots + 1)); probe=1
    server_flags+=(--max-players 5100 --arena-scale 7.1 --idle-timeout 60s --max-skipped-ticks 900)
    bot_flags=(--behaviour idle --input-rate 0 --ramp 250 --ping-interval 10s --connect-timeout 30s) ;;
  idle-100k)
    # A checksum every 10 s (not every 10 ticks): each one is a frame to every client, and
    # an idle client is otherwise sent a heartbeat once a second.
    bots=100000; duration="${DURATION:-60s}"; probe=1; ramp="${RAMP:-400}"
    checksum_every=300
    hard="$(ulimit -Hn)"
    if [ "$hard" != unlimited ] && [ $((hard - 300)) -lt "$bots" ]; then
      bots=$((hard - 300))
      echo "idle-100k: the open-file hard limit is $hard, so this machine holds $bots connections" \
           "per process (not 100,000); running $bots. Raise it (as root with CAP_SYS_RESOURCE:" \
           "ulimit -Hn 200000, or LimitNOFILE) for the full count." >&2
    fi
    addrs=$(( (bots + 24999) / 25000 ))
    local_addrs="$(seq -s, -f '127.0.0.%g' 2 $((addrs + 1)))"
    per_ip $((bots / addrs + 64))
    server_flags+=(--max-connections $((bots + 256)) --max-rooms $((bots / 256 + 16)) \
      --idle-timeout 60s --max-skipped-ticks 900)
    bot_flags=(--behaviour idle --input-rate 0 --ramp "$ramp" --ping-interval 10s \
      --connect-timeout 60s --local-addrs "$local_addrs") ;;
  *)
    echo "usage: $0 smoke|default|active-1000|connected-5000|idle-1000|idle-5000|idle-100k" >&2
    exit 2 ;;
esac

server_flags+=(--checksum-interval "${CHECKSUM_INTERVAL:-$checksum_every}")
# The scenarios measure what a tick costs: no degrading under overload unless asked for
# (OVERLOAD_MAX_INTERVAL=4 is the server's default).
server_flags+=(--overload-max-interval "${OVERLOAD_MAX_INTERVAL:-1}")

# BOTS lowers the scenario's count (to the largest that fits beside the bots on this box);
# the scenario's limits stay.
if [ -n "${BOTS:-}" ]; then
  if [ "$BOTS" -gt "$bots" ]; then
    echo "BOTS=$BOTS is more than $scenario's $bots" >&2
    exit 2
  fi
  bots="$BOTS"
  scenario_label="${scenario}-n${bots}"
fi
mirrors=0
# Where /healthz answers in plain HTTP: the player port, or with TLS the admin port.
health_port="$port"
tls_flags=()
if [ -n "${TLS:-}" ]; then
  tls_dir="$(mktemp -d)"
  (
    cd "$tls_dir"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj /CN=tickwire-bench-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
    openssl req "${ec[@]}" -keyout key.pem -out req.csr -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
    openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 \
      -extfile ext
  ) >/dev/null 2>&1 || { echo "TLS=1 needs openssl to make a certificate" >&2; exit 2; }
  health_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  url="wss://127.0.0.1:${port}/ws"
  server_flags+=(--tls-cert "$tls_dir/cert.pem" --tls-key "$tls_dir/key.pem" \
    --admin-addr "127.0.0.1:${health_port}")
  tls_flags=(--tls-ca "$tls_dir/ca.pem")
  bot_flags+=("${tls_flags[@]}" --metrics-url "http://127.0.0.1:${health_port}/metrics")
  scenario_label="${scenario_label:-$scenario}-tls"
fi
case "${TRANSPORT:-websocket}" in
  websocket) ;;
  webtransport)
    server_flags+=(--webtransport)
    bot_flags+=(--transport webtransport)
    scenario_label="${scenario_label:-$scenario}-webtransport"
    ;;
  websocket-mirror)
    bot_flags+=(--transport websocket-mirror)
    scenario_label="${scenario_label:-$scenario}-mirror"
    mirrors=$bots
    # Two connections per bot from 127.0.0.1.
    for i in "${!server_flags[@]}"; do
      [ "${server_flags[$i]}" = --max-connections-per-ip ] && server_flags[i+1]=$((2 * bots + 64))
    done
    ;;
  *)
    echo "TRANSPORT is websocket, webtransport or websocket-mirror, not $TRANSPORT" >&2
    exit 2
    ;;
esac

# Both processes need a descriptor per connection (the server one per bot, the bots one each;
# twice that with mirrors).
need=$((bots + mirrors + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || {
    echo "open-file limit $(ulimit -n) is below the $need this scenario needs, and the hard limit" \
         "($(ulimit -Hn)) does not allow raising it; run as root or raise LimitNOFILE" >&2
    exit 2
  }
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p tickwire-server -p tickwire-bench
bin="$CARGO_TARGET_DIR/release"

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
name="${scenario_label:-$scenario}"
json="bench/results/${name}-${stamp}.json"
log="bench/results/${name}-${stamp}.server.log"

# SERVER_FLAGS (extra server flags) is split on spaces on purpose.
# shellcheck disable=SC2086
RUST_LOG=warn "$bin/tickwire" "${server_flags[@]}" ${SERVER_FLAGS:-} >"$log" 2>&1 &
server_pid=$!
stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "${tls_dir:-}" ]; then rm -rf "$tls_dir"; fi
}
trap stop_server EXIT

# Wait (bounded) for our server to answer /healthz.
for attempt in $(seq 1 101); do
  if ! kill -0 "$server_pid" 2>/dev/null || [ "$attempt" = 101 ]; then
    echo "the server did not start; its log ($log):" >&2
    cat "$log" >&2
    exit 2
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/${health_port}" && printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3 && grep -q ok <&3) 2>/dev/null; then
    break
  fi
  sleep 0.1
done

# Responsiveness probe (idle-5000): once the ramp is over, one playing bot for 15 s and ten
# timed /healthz requests, while the main bots hold their connections.
probe_pid=""
sockstat_before="$(cat /proc/net/sockstat)"
if [ -n "${probe:-}" ]; then
  probe_json="${json%.json}.probe.json"
  (
    sleep $((bots / ${ramp:-250} + 10))
    # What the kernel holds for the sockets and how loaded the machine is, once all are in.
    { echo "# /proc/net/sockstat before the bots"; echo "$sockstat_before"
      echo "# /proc/net/sockstat during the hold"; cat /proc/net/sockstat
      echo "# load average"; cat /proc/loadavg; } >"${json%.json}.sockstat.txt"
    "$bin/bots" --url "$url" "${tls_flags[@]}" --bots 1 --behaviour strafe-and-shoot --input-rate 30 --duration 15s \
      --scenario "${scenario}-probe" --metrics-url off --json "$probe_json" --quiet >/dev/null 2>&1
    python3 - "$health_port" "${json%.json}.healthz.txt" <<'PY'
import sys, time, urllib.request
port, out = sys.argv[1], sys.argv[2]
times = []
for _ in range(10):
    t = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
        assert r.status == 200
    times.append((time.monotonic() - t) * 1000)
    time.sleep(0.2)
open(out, "w").write("healthz_ms " + " ".join(f"{x:.1f}" for x in times) + f"\nmax_ms {max(times):.1f}\n")
PY
  ) &
  probe_pid=$!
fi

set +e
"$bin/bots" --url "$url" --bots "$bots" --duration "$duration" --scenario "$name" \
  --server-pid "$server_pid" --json "$json" "${bot_flags[@]}" ${BOTS_QUIET:+--quiet}
status=$?
if [ -n "$probe_pid" ]; then
  wait "$probe_pid"
  echo "probe: $(cat "${json%.json}.healthz.txt" | tail -1); playing bot report: $probe_json"
  echo "sockets and load during the hold (${json%.json}.sockstat.txt):"
  cat "${json%.json}.sockstat.txt"
fi
set -e
stop_server
trap - EXIT

row="$(python3 - "$json" "$stamp" "$(git rev-parse --short HEAD)" "$(nproc)" "${SERVER_FLAGS:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("server") or {}
h = s.get("hold") or {}
m = s.get("memory") or {}
t = r["traffic"]
c = r["connections"]
print("\t".join(str(x) for x in [
    sys.argv[2], sys.argv[3], sys.argv[4], r["scenario"] + (" " + sys.argv[5] if sys.argv[5] else ""), r["bots"], round(r["hold_s"], 1),
    c["ok"], c["failed"], c["unexpected_disconnects"], r["divergences"], r["checksums_verified"],
    round(r["rtt_ms"]["p50"], 2), round(r["rtt_ms"]["p99"], 2), round(r["snapshot_jitter_p99_ms"], 2),
    round(t["bytes_in_per_client_s"]), round(t["bytes_out_per_client_s"]),
    round(t.get("entities_in_view", t.get("players_in_view", 0)), 1), round(t["bytes_per_entity_update"], 2), round(h.get("tick_p50_ms", 0), 3),
    round(h.get("tick_p99_ms", 0), 3), h.get("snapshots_skipped", ""),
    round(m.get("rss_per_connection_kib", 0), 1) if m else "",
    "PASS" if not r["failures"] else "FAIL",
]))
PY
)"
tsv=bench/results/runs.tsv
if [ ! -f "$tsv" ]; then
  printf 'utc\tcommit\tcores\tscenario\tbots\thold_s\tok\tfailed\tunexpected_closes\tdivergences\tchecksums\trtt_p50_ms\trtt_p99_ms\tjitter_p99_ms\tin_B_per_client_s\tout_B_per_client_s\tplayers_in_view\tB_per_update\ttick_p50_ms\ttick_p99_ms\tskipped\trss_KiB_per_conn\tresult\n' >"$tsv"
fi
echo "$row" >>"$tsv"
echo "appended to $tsv: $row"
exit "$status"
