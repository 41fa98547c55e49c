#!/usr/bin/env bash
# Everyone in view over real sockets, side by side with Colyseus 0.18: the scenario of
# shared/peers/colyseus/SCENARIO.md (one room, 30 Hz, 2000 x 2000, everyone moving and turning
# about once a second, no interest management).
#
#   bench/run-inview.sh                                  # N = 100 300 1000
#   NS="100 300" WARMUP=5 DUR=20 MAXLOAD=1.5 bench/run-inview.sh
#   TICKWIRE_PREV_BIN=/path/to/older/tickwire PREV_PROTOCOL=3 bench/run-inview.sh
#   SKIP_COLYSEUS=1 bench/run-inview.sh
#
# For each N, in this order and each on a fresh server: tickwire `--game inview` (fields
# declared `extrapolate`), tickwire `--game inview-plain` (`delta` positions, absolute angle),
# then, when TICKWIRE_PREV_BIN is set, that binary with `--game inview` and bots announcing
# PREV_PROTOCOL (default 3; its bots do not decode), then Colyseus (unless SKIP_COLYSEUS=1;
# its own server.js and bots.js from COLYSEUS_DIR, default ../shared/peers/colyseus, copied
# to OUTDIR and `npm ci`-ed there when it has no node_modules and cannot be written). Each run
# joins N bots (50 at a time), waits WARMUP s, measures DUR s: server CPU (utime+stime of
# /proc/PID/stat over the window, % of one core), RSS and peak RSS (VmRSS, VmHWM), and the
# bots' downstream WebSocket payload bytes and frames. Before each run it waits until the
# 1-minute load average is below MAXLOAD (60 s at most; the load is recorded either way).
# This build's servers also get TICKWIRE_FLAGS (default `--client-budget 0`: no byte budget,
# so that every client is sent every change, as the scenario says; the older binary has no
# budget). Tickwire servers run with --checksum-interval 30 so that the VERIFY (default 1) decoding
# bots check a checksum every second. NICE (default 0) runs every server and bot process at
# that niceness, in a session of its own whose scheduler autogroup gets that niceness too
# (e.g. NICE=-10 as root, on a machine shared with other work: with autogroups, a process's
# own niceness only counts within its session).
#
# Results: OUTDIR (default /tmp/tickwire-inview-<UTC time>): <run>-<N>.json, server and bot
# logs, table.md (also printed). Every process it starts is stopped on exit, error or Ctrl-C.
set -euo pipefail
NICE=${NICE:-0}
if [ "$NICE" != 0 ] && [ -z "${RUN_INVIEW_SESSION:-}" ]; then
  RUN_INVIEW_SESSION=1 exec setsid -w "$0" "$@"
fi
if [ "$NICE" != 0 ]; then
  echo "$NICE" >/proc/self/autogroup 2>/dev/null || echo "warning: cannot set the autogroup's niceness" >&2
fi
cd "$(dirname "$0")/.."
root=$PWD

NS=${NS:-"100 300 1000"}
WARMUP=${WARMUP:-5}
DUR=${DUR:-20}
MAXLOAD=${MAXLOAD:-1.5}
VERIFY=${VERIFY:-1}
TICKWIRE_FLAGS=${TICKWIRE_FLAGS---client-budget 0}
PREV_PROTOCOL=${PREV_PROTOCOL:-3}
TICKWIRE_PREV_BIN=${TICKWIRE_PREV_BIN:-}
SKIP_COLYSEUS=${SKIP_COLYSEUS:-0}
COLYSEUS_DIR=${COLYSEUS_DIR:-$root/../shared/peers/colyseus}
OUTDIR=${OUTDIR:-${TMPDIR:-/tmp}/tickwire-inview-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
echo "results in $OUTDIR" >&2

spid=""
bpid=""
stop() { # stop what this script started, by pid
  if [ -n "$bpid" ]; then kill "$bpid" 2>/dev/null || true; wait "$bpid" 2>/dev/null || true; fi
  if [ -n "$spid" ]; then
    kill "$spid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
  fi
  bpid=""
  spid=""
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

need=$((4000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || echo "warning: open-file limit $(ulimit -n) is below $need" >&2
fi

# The tickwire binaries (release).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -q -p tickwire-server --bin tickwire -p tickwire-bench --bin inview-bots
bin=$CARGO_TARGET_DIR/release
cp "$bin/tickwire" "$bin/inview-bots" "$OUTDIR/" # what this run measured, kept with its results
tickwire=$OUTDIR/tickwire
bots=$OUTDIR/inview-bots

if [ "$SKIP_COLYSEUS" != 1 ]; then
  command -v node >/dev/null || { echo "node is needed for Colyseus (or SKIP_COLYSEUS=1)" >&2; exit 2; }
  if [ ! -d "$COLYSEUS_DIR/node_modules" ]; then
    if [ ! -w "$COLYSEUS_DIR" ]; then
      mkdir -p "$OUTDIR/colyseus"
      cp "$COLYSEUS_DIR"/{package.json,package-lock.json,server.js,bots.js} "$OUTDIR/colyseus/"
      COLYSEUS_DIR=$OUTDIR/colyseus
    fi
    (cd "$COLYSEUS_DIR" && npm ci --no-audit --no-fund >"$OUTDIR/npm-ci.log" 2>&1)
  fi
fi

load1() { cut -d' ' -f1 /proc/loadavg; }
wait_load() { # up to 60 s for the 1-minute load average to fall below MAXLOAD; prints the wait
  local t=0
  while awk -v l="$(load1)" -v m="$MAXLOAD" 'BEGIN { exit !(l >= m) }' && [ $t -lt 60 ]; do
    sleep 5
    t=$((t + 5))
  done
  echo $t
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Adds the load figures to a run's JSON.
note() { # file waited load_start load_end
  python3 - "$@" <<'EOF'
import json, sys
f, waited, ls, le = sys.argv[1:]
r = json.load(open(f))
r.update(load_wait_s=int(waited), load_start=float(ls), load_end=float(le))
json.dump(r, open(f, "w"), indent=1)
EOF
}

# One tickwire run: label, N, binary, game, protocol (0: the bots' own), verifying bots,
# extra server flags (one word each).
run_tickwire() {
  local label=$1 n=$2 server=$3 game=$4 proto=$5 verify=$6 extra
  local waited lstart lend port out=$OUTDIR/$label-$n protocol=()
  read -r -a extra <<<"$7"
  [ "$proto" = 0 ] || protocol=(--protocol "$proto")
  waited=$(wait_load)
  lstart=$(load1)
  port=$(free_port)
  RUST_LOG=warn nice -n "$NICE" "$server" --game "$game" --addr "127.0.0.1:$port" --db "sqlite::memory:" \
    --max-players $((n + 100)) --max-seats-per-ip $((n + 100)) \
    --max-connections-per-ip $((n + 100)) --checksum-interval 30 "${extra[@]}" >"$out.server.log" 2>&1 &
  spid=$!
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/rooms" && break
    sleep 0.1
  done
  nice -n "$NICE" timeout $((WARMUP + DUR + 120)) "$bots" --url "ws://127.0.0.1:$port/ws" --bots "$n" \
    --warmup "$WARMUP" --duration "$DUR" --verify "$verify" "${protocol[@]}" \
    --server-pid "$spid" --label "$label" >"$out.json" 2>"$out.bots.log" &
  bpid=$!
  wait "$bpid" || echo "$label N=$n: the bots exited with $? (see $out.bots.log)" >&2
  bpid=""
  lend=$(load1)
  stop
  [ -s "$out.json" ] && note "$out.json" "$waited" "$lstart" "$lend" || echo "$label N=$n: no result" >&2
}

run_colyseus() {
  local n=$1 waited lstart lend port out=$OUTDIR/colyseus-$n
  waited=$(wait_load)
  lstart=$(load1)
  port=$(free_port)
  (cd "$COLYSEUS_DIR" && exec nice -n "$NICE" node server.js "$port") >"$out.server.log" 2>&1 &
  spid=$!
  for _ in $(seq 100); do grep -q listening "$out.server.log" && break; sleep 0.1; done
  (cd "$COLYSEUS_DIR" && exec nice -n "$NICE" timeout $((WARMUP + DUR + 240)) node bots.js --url "ws://127.0.0.1:$port" \
    --bots "$n" --warmup "$WARMUP" --duration "$DUR" --server-pid "$spid" --json "$out.json") \
    >"$out.bots.log" 2>&1 &
  bpid=$!
  wait "$bpid" || echo "colyseus N=$n: the bots exited with $? (see $out.bots.log)" >&2
  bpid=""
  lend=$(load1)
  stop
  [ -s "$out.json" ] && note "$out.json" "$waited" "$lstart" "$lend" || echo "colyseus N=$n: no result" >&2
}

for n in $NS; do
  run_tickwire tickwire-inview "$n" "$tickwire" inview 0 "$VERIFY" "$TICKWIRE_FLAGS"
  run_tickwire tickwire-inview-plain "$n" "$tickwire" inview-plain 0 "$VERIFY" "$TICKWIRE_FLAGS"
  if [ -n "$TICKWIRE_PREV_BIN" ]; then
    run_tickwire tickwire-prev "$n" "$TICKWIRE_PREV_BIN" inview "$PREV_PROTOCOL" 0 ""
  fi
  if [ "$SKIP_COLYSEUS" != 1 ]; then run_colyseus "$n"; fi
done

python3 - "$OUTDIR" $NS <<'EOF' | tee "$OUTDIR/table.md"
import json, os, sys
out, ns = sys.argv[1], [int(n) for n in sys.argv[2:]]
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return None
def row(r, n):
    """Common figures of a tickwire or Colyseus result."""
    if "ws_down_bytes_per_bot_per_s" in r:  # Colyseus bots.js
        s, b = r.get("server_proc") or {}, r.get("bot_proc") or {}
        per_patch = r["ws_down_bytes_per_bot_per_s"] / max(r["patches_per_bot_per_s"], 1e-9)
        return dict(bps=r["ws_down_bytes_per_bot_per_s"], per=per_patch / n,
                    fps=r["ws_frames_per_bot_per_s"], cpu=s.get("cpu_pct_of_one_core"),
                    user=s.get("user_pct_of_one_core"), rss=s.get("rss_mib"), peak=s.get("peak_rss_mib"),
                    div="- (sees %s)" % r.get("observer_sees_players"), inputs=r["inputs_per_bot_per_s"],
                    bots=b.get("cpu_pct_of_one_core"), joined=r["joined"])
    s, b = r.get("server") or {}, r.get("bots_process") or {}
    div = "%d / %d checksums" % (r["divergences"] + r["replica_errors"], r["checksums_verified"]) \
        if r["verify"] else "- (not decoded)"
    return dict(bps=r["bytes_per_client_per_s"], per=r["bytes_per_player_per_snapshot"],
                fps=r["frames_per_client_per_s"], cpu=s.get("cpu_pct"), user=s.get("user_pct"),
                rss=s.get("rss_mib"), peak=s.get("peak_rss_mib"), div=div,
                inputs=r["inputs_per_client_per_s"], bots=b.get("cpu_pct"), joined=r["joined"])
f = lambda x, d=0: "-" if x is None else f"{x:,.{d}f}"
print("| N | server | B/client/s | B per moving player per snapshot | frames/client/s | server CPU % of one core (user) | server RSS MiB (peak) | divergences | inputs/s/bot | bots CPU % | joined | load start/end | bytes vs Colyseus | CPU vs Colyseus |")
print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|")
for n in ns:
    c = load(f"colyseus-{n}.json")
    cr = row(c, n) if c else None
    for name in ["tickwire-inview", "tickwire-inview-plain", "tickwire-prev", "colyseus"]:
        r = load(f"{name}-{n}.json")
        if r is None:
            continue
        x = row(r, n)
        rb = f"{x['bps'] / cr['bps']:.4f}" if cr and name != "colyseus" else "-"
        rc = f"{x['cpu'] / cr['cpu']:.2f}" if cr and name != "colyseus" and x["cpu"] and cr["cpu"] else "-"
        print(f"| {n} | {name} | {f(x['bps'])} | {f(x['per'], 3)} | {f(x['fps'], 2)} | {f(x['cpu'], 1)} ({f(x['user'], 1)}) "
              f"| {f(x['rss'])} ({f(x['peak'])}) | {x['div']} | {f(x['inputs'], 2)} | {f(x['bots'])} | {x['joined']}/{n} "
              f"| {r.get('load_start', '-')}/{r.get('load_end', '-')} | {rb} | {rc} |")
EOF
