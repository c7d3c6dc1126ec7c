#!/usr/bin/env bash
# `watch` latency: time from a file renamed into the watched directory to its object
# existing in the API server, over N files (default 100) dropped one at a time, against
# the tests' fake Kubernetes API server (no added latency). Prints the median and p90.
#   scripts/bench-watch.sh [N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100}
echo "building the release binaries" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin kube-openstack --example fake-kube-apiserver
BIN="$ROOT/target/release/kube-openstack"
FAKE="$ROOT/target/release/examples/fake-kube-apiserver"
WORK=$(mktemp -d "${BENCH_DIR:-/dev/shm}/bench-watch.XXXXXX")
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$FAKE" --kubeconfig "$WORK/kubeconfig" > "$WORK/fake.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$WORK/kubeconfig" ] && break; sleep 0.05; done
URL=$(awk '/server:/ {print $2; exit}' "$WORK/kubeconfig")
mkdir "$WORK/incoming"
"$BIN" watch --kubeconfig "$WORK/kubeconfig" -n bench "$WORK/incoming" 2> "$WORK/watch.log" &
pids+=($!)
sleep 1

python3 - "$WORK/incoming" "$URL" "$N" <<'PY'
import http.client, os, statistics, sys, time, urllib.parse
incoming, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
def exists(name):
    conn.request("GET", f"/api/v1/namespaces/bench/configmaps/{name}", headers={"Authorization": "Bearer fake-token"})
    r = conn.getresponse(); r.read()
    return r.status == 200
latencies = []
for i in range(n):
    name = f"cm-{i}"
    tmp = os.path.join(incoming, f".{name}.partial")
    with open(tmp, "w") as f:
        f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  i: \"{i}\"\n")
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(incoming, f"{name}.yaml"))
    while not exists(name):
        time.sleep(0.001)
    latencies.append(time.monotonic() - t0)
latencies.sort()
p90 = latencies[int(len(latencies) * 0.9) - 1]
print(f"watch latency over {n} files: median {statistics.median(latencies)*1000:.1f} ms, "
      f"p90 {p90*1000:.1f} ms, min {latencies[0]*1000:.1f} ms, max {latencies[-1]*1000:.1f} ms")
PY
