#!/usr/bin/env bash
# Two nodes through matchmaking: builds (release), starts a redis-server and two tickwire nodes
# on free loopback ports, runs two bot processes that each ask one node's POST /match for their
# seats, samples Redis and both nodes at the start and the end of the hold, stops everything
# (also on failure or Ctrl-C) and writes the figures to bench/results/<scenario>-<utc time>.*
# (the bots' two JSON reports, the samples as *.cluster.json and a readable *.summary.txt).
#
#   bash bench/run-cluster.sh                  # cluster-1000: 1,000 bots, 500 per node's /match
#   BOTS=400 DURATION=20s bash bench/run-cluster.sh   # fewer bots, shorter hold
#   SERVER_FLAGS="--lease-ttl 6s" bash bench/run-cluster.sh   # any other flag of both nodes
#
# Scenario cluster-1000 (both nodes: --db off, default room size 256, arena scaled 1.6x so a
# full room has the density of 100 players in the demo arena; bots: mixed, 30 inputs/s):
#   BOTS (1000) split over the two processes; RAMP (100) bots per second per process, so the
#   whole cluster is asked for up to 2 x RAMP matches a second; DURATION (30s) of hold.
# Needs redis-server and redis-cli on the PATH (Debian: apt-get install redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."

scenario="${1:-cluster-1000}"
case "$scenario" in
  cluster-1000) ;;
  *) echo "usage: $0 [cluster-1000]   (BOTS, RAMP, DURATION, SERVER_FLAGS from the environment)" >&2
     exit 2 ;;
esac
bots="${BOTS:-1000}"
ramp="${RAMP:-100}"
duration="${DURATION:-30s}"
hold_s="$(python3 -c 'import sys, re; m = re.fullmatch(r"(\d+)(s|m)", sys.argv[1]); print(int(m[1]) * (60 if m[2] == "m" else 1))' "$duration")"
per_a=$((bots / 2)); per_b=$((bots - per_a))
secret="bench-cluster-secret-of-at-least-32-bytes"

for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "$tool is not on the PATH (apt-get install redis-server)" >&2; exit 2; }
done
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_port="$(free_port)"; port_a="$(free_port)"; port_b="$(free_port)"
while [ "$port_b" = "$port_a" ] || [ "$port_b" = "$redis_port" ] || [ "$port_a" = "$redis_port" ]; do
  port_a="$(free_port)"; port_b="$(free_port)"
done
redis_url="redis://127.0.0.1:${redis_port}/0"
rcli() { redis-cli -p "$redis_port" "$@"; }

# Each node needs a descriptor per player it hosts (up to all of them), each bot process one
# per bot.
need=$((bots + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || {
    echo "open-file limit $(ulimit -n) is below the $need this scenario needs, and the hard limit" \
         "($(ulimit -Hn)) does not allow raising it" >&2
    exit 2
  }
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p tickwire-server -p tickwire-bench
bin="$CARGO_TARGET_DIR/release"

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
base="bench/results/${scenario}-${stamp}"

# Everything this script starts, stopped on any exit: bots first, then the nodes (SIGTERM,
# then SIGKILL after 5 s: a node drains on SIGTERM), then Redis.
pids_bots=(); pids_nodes=(); redis_pid=""; sampler_pid=""
stop_all() {
  local p
  for p in ${sampler_pid:+"$sampler_pid"} "${pids_bots[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in ${sampler_pid:+"$sampler_pid"} "${pids_bots[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in "${pids_nodes[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids_nodes[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "$redis_pid" ]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  pids_bots=(); pids_nodes=(); redis_pid=""; sampler_pid=""
}
trap stop_all EXIT
trap 'exit 130' INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  >"${base}.redis.log" 2>&1 &
redis_pid=$!
for attempt in $(seq 1 51); do
  [ "$attempt" = 51 ] && { echo "redis-server did not answer; ${base}.redis.log:" >&2; cat "${base}.redis.log" >&2; exit 2; }
  [ "$(rcli ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
mem_empty="$(rcli info memory | tr -d '\r' | sed -n 's/^used_memory://p')"
rcli memory stats >"${base}.memstats-empty.txt"

# Every bot connects from 127.0.0.1: lift the per-IP connection and seat limits (default 256
# and 64) to all the bots, since matchmaking may seat any number of them on either node.
node_flags=(--db off --redis "$redis_url" --cluster-secret "$secret" --checksum-interval 10
  --arena-scale 1.6 --max-connections-per-ip $((bots + 64)) --max-seats-per-ip $((bots + 64)))
start_node() { # ID PORT
  # SERVER_FLAGS (extra flags of both nodes) is split on spaces on purpose.
  # shellcheck disable=SC2086
  RUST_LOG=warn "$bin/tickwire" --addr "127.0.0.1:$2" --node "$1" "${node_flags[@]}" \
    ${SERVER_FLAGS:-} >"${base}.node-$1.log" 2>&1 &
  pids_nodes+=($!)
}
start_node a "$port_a"
start_node b "$port_b"
healthy() { (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3 && grep -q ok <&3) 2>/dev/null; }
for i in 0 1; do
  p=$([ "$i" = 0 ] && echo "$port_a" || echo "$port_b"); id=$([ "$i" = 0 ] && echo a || echo b)
  for attempt in $(seq 1 101); do
    if ! kill -0 "${pids_nodes[$i]}" 2>/dev/null || [ "$attempt" = 101 ]; then
      echo "node $id did not start; ${base}.node-$id.log:" >&2; cat "${base}.node-$id.log" >&2; exit 2
    fi
    healthy "$p" && break
    sleep 0.1
  done
done
sleep 2 # a renewal or two: both nodes in the directory, no room yet
mem_nodes="$(rcli info memory | tr -d '\r' | sed -n 's/^used_memory://p')"
rcli memory stats >"${base}.memstats-nodes.txt"

# Samples at the start and the end of the hold (in the background while the bots run).
python3 - "$base.cluster.json" "$redis_port" "$port_a" "$port_b" "${pids_nodes[0]}" \
  "${pids_nodes[1]}" "$redis_pid" "$bots" "$((bots / 2 / ${ramp%.*} + 25))" "$hold_s" \
  "$mem_empty" "$mem_nodes" <<'PY' &
import json, os, re, subprocess, sys, time, urllib.request
(out, rport, pa, pb, pid_a, pid_b, pid_r, bots, ramp_limit, hold_s, mem_empty,
 mem_nodes) = sys.argv[1:]
bots, ramp_limit, hold_s = int(bots), int(ramp_limit), int(hold_s)
hz = os.sysconf("SC_CLK_TCK")
nodes = {"a": (pa, pid_a), "b": (pb, pid_b)}

def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode()

def redis(*args):
    return subprocess.run(["redis-cli", "-p", rport, *args], capture_output=True, text=True,
                          check=True).stdout

def info(section):
    d = {}
    for line in redis("info", section).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.strip().split(":", 1)
            d[k] = v
    return d

def memstats(lines):
    # MEMORY STATS as redis-cli prints it: a name line, then its value line.
    lines = [l.strip() for l in lines]
    return {k: int(lines[i + 1]) for i, k in enumerate(lines[:-1])
            if k in ("dataset.bytes", "keys.count", "clients.normal", "overhead.total")}

def metric(text, name):
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    return float(m[1]) if m else None

def cpu_s(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / hz
    except OSError:
        return None

def rooms(port):
    return json.loads(get(port, "/rooms?limit=500"))

def sample():
    s = {"t": time.monotonic(), "nodes": {}, "redis": {}}
    for n, (port, pid) in nodes.items():
        text = get(port, "/metrics")
        s["nodes"][n] = {
            "redis_commands_total": metric(text, "tickwire_cluster_redis_commands_total"),
            "matches_total": metric(text, "tickwire_cluster_matches_total"),
            "redirects_total": metric(text, "tickwire_cluster_redirects_total"),
            "redis_errors_total": metric(text, "tickwire_cluster_redis_errors_total"),
            "cpu_s": cpu_s(pid),
        }
    s["redis"]["total_commands_processed"] = int(info("stats")["total_commands_processed"])
    s["redis"]["commandstats"] = {k[len("cmdstat_"):]: int(re.search(r"calls=(\d+)", v)[1])
                                  for k, v in info("commandstats").items()}
    s["redis"]["cpu_s"] = cpu_s(pid_r)
    s["bots_cpu_s"] = sum(c for c in (cpu_s(p) for p in bot_pids()) if c is not None)
    return s

def bot_pids():
    out = subprocess.run(["pgrep", "-P", str(os.getppid()), "-x", "bots"], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]

# The hold starts once every bot is seated, or once the count has stopped growing for 3 s
# (a bot that was refused does not come back), as the directory says; polled only before the
# measured window, since /rooms itself sends Redis commands. The window then ends well inside
# the bots' hold (which starts when their last join succeeded or gave up).
start = time.monotonic()
seated, last, since = 0, -1, start
while time.monotonic() - start < ramp_limit:
    try:
        seated = sum(r["players"] for r in rooms(pa))
    except Exception:
        pass
    now = time.monotonic()
    if seated >= bots:
        break
    if seated != last:
        last, since = seated, now
    elif seated > 0 and now - since >= 3:
        break
    time.sleep(0.5)
seated_after_s = time.monotonic() - start
time.sleep(2)
s0 = sample()
window = max(5, hold_s - 10)
time.sleep(window)
s1 = sample()
mem = int(info("memory")["used_memory"])
stats = {"empty": memstats(open(out.replace(".cluster.json", ".memstats-empty.txt")).readlines()),
         "nodes_no_rooms": memstats(open(out.replace(".cluster.json", ".memstats-nodes.txt")).readlines()),
         "with_rooms": memstats(redis("memory", "stats").splitlines())}
keys = redis("--scan", "--pattern", "*").split()
prefix = {}
for k in keys:
    p = re.sub(r"[A-Za-z0-9]+-\d+$|[^:]+$", "*", k)
    prefix[p] = prefix.get(p, 0) + 1
room_keys = sorted(k for k in keys if k.startswith("tw:room:"))
usage = {k: int(redis("memory", "usage", k, "samples", "0").strip()) for k in room_keys}
usage_all = {k: int(redis("memory", "usage", k, "samples", "0").strip()) for k in sorted(keys)}
mem_info = {k: int(v) for k, v in info("memory").items()
            if k in ("used_memory", "used_memory_dataset", "used_memory_scripts_eval",
                     "used_memory_vm_eval", "used_memory_overhead", "used_memory_startup")}
one = room_keys[0] if room_keys else None
dt = s1["t"] - s0["t"]
cmd_diff = {k: v - s0["redis"]["commandstats"].get(k, 0)
            for k, v in s1["redis"]["commandstats"].items()
            if v - s0["redis"]["commandstats"].get(k, 0)}
res = {
    "seated_before_hold": seated, "seated_after_s": round(seated_after_s, 1),
    "window_s": round(dt, 2),
    "per_node": {n: {
        "redis_commands_per_s": (s1["nodes"][n]["redis_commands_total"]
                                 - s0["nodes"][n]["redis_commands_total"]) / dt,
        "matches_in_window": s1["nodes"][n]["matches_total"] - s0["nodes"][n]["matches_total"],
        "cpu_pct_of_a_core": 100 * (s1["nodes"][n]["cpu_s"] - s0["nodes"][n]["cpu_s"]) / dt,
        "at_end": s1["nodes"][n],
    } for n in nodes},
    "redis": {
        "commands_per_s": (s1["redis"]["total_commands_processed"]
                           - s0["redis"]["total_commands_processed"]) / dt,
        "commands_in_window_by_name": cmd_diff,
        "cpu_pct_of_a_core": 100 * (s1["redis"]["cpu_s"] - s0["redis"]["cpu_s"]) / dt,
        "used_memory_empty": int(mem_empty), "used_memory_nodes_no_rooms": int(mem_nodes),
        "used_memory_with_rooms": mem, "memory_stats": stats, "keys": len(keys), "keys_by_pattern": prefix,
        "room_hashes": len(room_keys), "memory_usage_room_hash": usage,
        "memory_usage_every_key": usage_all, "info_memory_with_rooms": mem_info,
        "one_room_hash": {"key": one, "hgetall": redis("hgetall", one).split("\n") if one else []},
    },
    "bots_cpu_pct_of_a_core": 100 * (s1["bots_cpu_s"] - s0["bots_cpu_s"]) / dt,
    "rooms_via_a": rooms(pa), "rooms_via_b": rooms(pb),
    "load_average": open("/proc/loadavg").read().split()[:3],
}
json.dump(res, open(out, "w"), indent=1)
PY
sampler_pid=$!

common=(--bots "$per_a" --ramp "$ramp" --duration "$duration" --behaviour mixed --input-rate 30
  --connect-timeout 20s --scenario "$scenario" --quiet)
"$bin/bots" "${common[@]}" --url "ws://127.0.0.1:${port_a}/ws" \
  --match-url "http://127.0.0.1:${port_a}/match" --metrics-url "http://127.0.0.1:${port_a}/metrics" \
  --server-pid "${pids_nodes[0]}" --json "${base}.bots-a.json" >"${base}.bots-a.txt" 2>&1 &
pids_bots+=($!)
common[1]="$per_b"
"$bin/bots" "${common[@]}" --seed 2 --url "ws://127.0.0.1:${port_b}/ws" \
  --match-url "http://127.0.0.1:${port_b}/match" --metrics-url "http://127.0.0.1:${port_b}/metrics" \
  --server-pid "${pids_nodes[1]}" --json "${base}.bots-b.json" >"${base}.bots-b.txt" 2>&1 &
pids_bots+=($!)

status=0
for p in "${pids_bots[@]}"; do wait "$p" || status=$?; done
pids_bots=()
wait "$sampler_pid" || { echo "the sampler failed (see above)" >&2; status=1; }
sampler_pid=""
stop_all

python3 - "$base" "$bots" "$ramp" <<'PY' | tee "${base}.summary.txt"
import json, sys
base, bots, ramp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
c = json.load(open(base + ".cluster.json"))
print(f"{bots} bots, two processes of {bots // 2} (ramp {ramp:g}/s each), matches through both nodes")
for n in "ab":
    r = json.load(open(f"{base}.bots-{n}.json"))
    m = r.get("matchmaking") or {}
    t = m.get("time_to_seat_ms") or {}
    print(f"bots via node {n}: connections {r['connections']['ok']} ok / {r['connections']['failed']} failed,"
          f" unexpected disconnects {r['connections']['unexpected_disconnects']}, divergences {r['divergences']},"
          f" matches {m.get('matches')} ({m.get('matches_per_s', 0):.1f}/s over the ramp), match failures"
          f" {m.get('match_failures')}, redirects {m.get('redirects')}; time to seat p50 {t.get('p50', 0):.1f}"
          f" p95 {t.get('p95', 0):.1f} p99 {t.get('p99', 0):.1f} max {t.get('max', 0):.1f} ms;"
          f" rtt p50/p99 {r['rtt_ms']['p50']:.2f}/{r['rtt_ms']['p99']:.2f} ms; failures: {r['failures']}")
print(f"hold window sampled: {c['window_s']} s (after {c['seated_before_hold']} seated at {c['seated_after_s']} s)")
for n, v in c["per_node"].items():
    print(f"node {n}: {v['redis_commands_per_s']:.1f} Redis commands/s, {v['matches_in_window']:.0f} matches in the window,"
          f" CPU {v['cpu_pct_of_a_core']:.0f}% of a core; totals at the end: {v['at_end']}")
rd = c["redis"]
print(f"redis: {rd['commands_per_s']:.1f} commands/s processed (info stats), CPU {rd['cpu_pct_of_a_core']:.1f}% of a core;"
      f" by command in the window: {rd['commands_in_window_by_name']}")
rooms = c["rooms_via_a"]
nr = len(rooms)
print(f"redis memory: empty {rd['used_memory_empty']} B, two nodes no rooms {rd['used_memory_nodes_no_rooms']} B,"
      f" with {nr} rooms {rd['used_memory_with_rooms']} B: per room {(rd['used_memory_with_rooms'] - rd['used_memory_empty']) / max(nr, 1):.0f} B"
      f" over empty, {(rd['used_memory_with_rooms'] - rd['used_memory_nodes_no_rooms']) / max(nr, 1):.0f} B over two idle nodes;"
      f" MEMORY USAGE of the room hashes {rd['memory_usage_room_hash']}; keys {rd['keys']} {rd['keys_by_pattern']}")
ms = rd["memory_stats"]
print(f"MEMORY STATS dataset.bytes: empty {ms['empty']}, two idle nodes {ms['nodes_no_rooms']}, with rooms {ms['with_rooms']}:"
      f" dataset per room {(ms['with_rooms']['dataset.bytes'] - ms['nodes_no_rooms']['dataset.bytes']) / max(nr, 1):.0f} B over two idle nodes")
print(f"MEMORY USAGE of every key: {rd['memory_usage_every_key']} (sum {sum(rd['memory_usage_every_key'].values())} B); info memory: {rd['info_memory_with_rooms']}")
print(f"one room hash {rd['one_room_hash']['key']}: {rd['one_room_hash']['hgetall']}")
per_node = {}
for r in rooms:
    per_node[r["node"]] = per_node.get(r["node"], 0) + r["players"]
print("rooms (/rooms on node a): " + ", ".join(f"{r['id']} {r['players']}/{r['max_players']}" for r in rooms)
      + f"; players per node {per_node}; node b's /rooms lists {len(c['rooms_via_b'])} rooms")
print(f"bots' CPU {c['bots_cpu_pct_of_a_core']:.0f}% of a core (both processes); load average at the end {c['load_average']}")
PY
echo "reports: ${base}.*"
exit "$status"
