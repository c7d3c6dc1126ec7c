#!/usr/bin/env bash
# Deploy benchmark against the fake Kubernetes API server (the tests' fake, built as the
# `fake-kube-apiserver` example), every request delayed by LATENCY_MS (default 20 ms):
#
#   1. the 2014 way, as the baseline: one process per object, one after another (a
#      `curl` server-side apply per manifest file, the lightest such process there is);
#   2. `kube-openstack deploy` of the same tree (release build, default --parallel 8,
#      waiting for readiness);
#   3. `kube-openstack deploy` with faults injected (10% 500s, 5% dropped connections:
#      half before, half after the change is committed), checked for: completion, every
#      object exactly as rendered, no object created twice; then a second run, which must
#      report 0 changes.
#
# Usage: scripts/bench-deploy.sh [N]   (default 1000 objects)
set -euo pipefail
N=${1:-1000}
LATENCY_MS=${LATENCY_MS:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$( [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}" )}
WORK=$(mktemp -d "$BENCH_DIR/ko-bench-deploy.XXXXXX")
FAKE_PID=
cleanup() { [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
command -v curl >/dev/null || { echo "error: curl is needed (apt-get install curl)" >&2; exit 2; }

echo "building the release binaries" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin kube-openstack --example fake-kube-apiserver
BIN="$ROOT/target/release/kube-openstack"
FAKE="$ROOT/target/release/examples/fake-kube-apiserver"

echo "generating $N objects in $WORK/tree" >&2
python3 - "$WORK" "$N" <<'PY'
import json, os, sys
work, n = sys.argv[1], int(sys.argv[2])
tree = os.path.join(work, "tree")
os.makedirs(tree)
index, expected = [], {}
# A deployment's mix: 40% ConfigMaps, 30% Secrets, 20% Services, 10% ReplicationControllers
# whose pods read a Secret and a ConfigMap (inferred dependencies: they wait for those).
kinds = [("ConfigMap", "configmaps", 40), ("Secret", "secrets", 30), ("Service", "services", 20), ("ReplicationController", "replicationcontrollers", 10)]
count = {}
for kind, plural, share in kinds:
    count[kind] = n * share // 100
count["ConfigMap"] += n - sum(count.values())
for kind, plural, _ in kinds:
    for i in range(count[kind]):
        name = f"{plural[:-1]}-{i:04d}"
        if kind == "ConfigMap":
            obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": {"config.ini": f"[DEFAULT]\nvalue = {i}\n"}}
        elif kind == "Secret":
            obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "stringData": {"password": f"pw-{i:04d}-Zq3xK9pLm2Rt7Vw"}}
        elif kind == "Service":
            obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
        else:
            obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": {"replicas": 2, "selector": {"app": name},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": f"example/app:{i}",
                "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"secret-{i:04d}", "key": "password"}}}],
                "envFrom": [{"configMapRef": {"name": f"configmap-{i:04d}"}}]}]}}}}
        path = os.path.join(tree, f"{name}.yaml")
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)   # JSON is YAML; the loader reads either
            f.write("\n")
        index.append(f"{path} {plural} {name}")
        expected[f"{plural}/{name}"] = obj
with open(os.path.join(work, "index"), "w") as f:
    f.write("\n".join(index) + "\n")
with open(os.path.join(work, "expected.json"), "w") as f:
    json.dump(expected, f)
PY

start_fake() { # FLAGS...
    if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null || true; fi
    # A fresh file per start: the new server writes its kubeconfig, then its URL.
    rm -f "$WORK/fake.url.tmp" "$WORK/kubeconfig"
    "$FAKE" --kubeconfig "$WORK/kubeconfig" --latency-ms "$LATENCY_MS" "$@" >"$WORK/fake.url.tmp" &
    FAKE_PID=$!
    for _ in $(seq 200); do grep -q '^http' "$WORK/fake.url.tmp" 2>/dev/null && break; sleep 0.05; done
    URL=$(head -1 "$WORK/fake.url.tmp")
    [ -n "$URL" ] || { echo "error: the fake API server did not start" >&2; exit 2; }
}
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

start_fake
echo "baseline: one curl process per object, sequential ($URL)" >&2
curl -sSf -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
    --data-binary '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"baseline"}}' \
    "$URL/api/v1/namespaces/baseline?fieldManager=shell-loop" >/dev/null
t0=$(now)
while read -r path plural name; do
    curl -sSf -o /dev/null -X PATCH -H 'Content-Type: application/apply-patch+yaml' --data-binary "@$path" \
        "$URL/api/v1/namespaces/baseline/$plural/$name?fieldManager=shell-loop"
done <"$WORK/index"
baseline=$(elapsed "$t0" "$(now)")

echo "kube-openstack deploy" >&2
start_fake
t0=$(now)
"$BIN" deploy --kubeconfig "$WORK/kubeconfig" -n bench --manifests "$WORK/tree" --no-progress >"$WORK/deploy.out" 2>"$WORK/deploy.err"
deploy=$(elapsed "$t0" "$(now)")
requests=$(curl -sSf "$URL/fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')

echo "kube-openstack deploy with 10% 500s and 5% dropped connections" >&2
start_fake --error-rate 0.10 --drop-before-rate 0.025 --drop-after-rate 0.025 --seed 11
t0=$(now)
"$BIN" deploy --kubeconfig "$WORK/kubeconfig" -n bench --manifests "$WORK/tree" --no-progress >"$WORK/faults.out" 2>"$WORK/faults.err" \
    || { echo "error: deploy with faults failed" >&2; tail -20 "$WORK/faults.err" >&2; exit 1; }
faulty=$(elapsed "$t0" "$(now)")
curl -sSf "$URL/fake/stats" >"$WORK/stats.json"
curl -sSf "$URL/fake/objects" >"$WORK/objects.json"
check=$(python3 - "$WORK" <<'PY'
import base64, json, sys
work = sys.argv[1]
expected = json.load(open(f"{work}/expected.json"))
for obj in expected.values():  # the server keeps stringData base64-encoded in data
    if "stringData" in obj:
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in obj.pop("stringData").items()}
live = {}
for o in json.load(open(f"{work}/objects.json")):
    if o["metadata"].get("namespace") == "bench":
        plural = {"ConfigMap": "configmaps", "Secret": "secrets", "Service": "services", "ReplicationController": "replicationcontrollers"}[o["kind"]]
        live[f"{plural}/{o['metadata']['name']}"] = o
def contains(e, a):
    if isinstance(e, dict):
        return isinstance(a, dict) and all(k in a and contains(v, a[k]) for k, v in e.items())
    return e == a
bad = [k for k, e in expected.items() if k not in live or not contains(e, live[k])]
stats = json.load(open(f"{work}/stats.json"))
print(f"{len(expected) - len(bad)} {len(expected)} {stats['max_creations']} {stats['requests']} "
      f"{stats['faults']['500']} {stats['faults']['drop_before']} {stats['faults']['drop_after']}")
PY
)
read -r as_rendered total max_creations f_requests f500 fdrop_before fdrop_after <<<"$check"
t0=$(now)
"$BIN" deploy --kubeconfig "$WORK/kubeconfig" -n bench --manifests "$WORK/tree" --no-progress >"$WORK/second.out" 2>"$WORK/second.err" \
    || { echo "error: second deploy failed" >&2; tail -20 "$WORK/second.err" >&2; exit 1; }
again=$(elapsed "$t0" "$(now)")
second=$(grep -o '[0-9]* changes' "$WORK/second.err" | tail -1)

echo
echo "## $N objects, fake API server with ${LATENCY_MS} ms per request"
echo
echo "| run | wall (s) | requests |"
echo "|---|---:|---:|"
echo "| baseline: one \`curl\` per object, sequential | $baseline | $N |"
echo "| \`kube-openstack deploy\` (--parallel 8, waits for readiness) | $deploy | $requests |"
echo "| \`kube-openstack deploy\`, 10% 500s + 5% dropped connections | $faulty | $f_requests |"
echo "| the same again (nothing to change), faults still on | $again | - |"
echo
python3 -c "print(f'deploy / baseline = {$deploy / $baseline:.3f} (target <= 0.200)')"
echo "with faults: $f500 answered 500, $fdrop_before dropped before commit, $fdrop_after dropped after commit;"
echo "  objects exactly as rendered: $as_rendered of $total; most creations of one object: $max_creations (1 = no duplicate)"
echo "  second run: $second"
[ "$as_rendered" = "$total" ] && [ "$max_creations" = 1 ] && [ "$second" = "0 changes" ]
