#!/usr/bin/env bash
# `up` on an unchanged deployment, side by side in one run with the baseline of running
# the stages one after another (`render`, `images`, `deploy`: what a script without `up`
# does). The shipped kubernetes-in/ and heat/ trees with local parameters, one small
# image context, the Swift-backed registry of scripts/dev-registry.sh (started when not
# running), buildah, and the fake Kubernetes API server with LATENCY_MS per request
# (default 20 ms, as scripts/bench-deploy.sh).
#
#   scripts/bench-up.sh [RUNS]     # RUNS unchanged runs of each (default 5); medians
#
# For each: wall time, the requests the API server saw (and how many were writes), and
# builder invocations.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
LATENCY_MS=${LATENCY_MS:-20}
say() { printf 'bench-up: %s\n' "$*" >&2; }

command -v buildah >/dev/null || { say "needs buildah (apt-get install buildah)"; exit 2; }
scripts/dev-registry.sh start
eval "$(scripts/dev-registry.sh env | sed 's/^/export /')"
say "building the release binaries"
cargo build --release --quiet --bin kube-openstack --example fake-kube-apiserver
bin=$PWD/target/release/kube-openstack
fake=$PWD/target/release/examples/fake-kube-apiserver

work=$(mktemp -d /tmp/bench-up.XXXXXX)
fake_pid=
cleanup() { [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

project=$work/project
mkdir -p "$project/docker/hello" "$work/bin"
cp -r kubernetes-in heat "$project/"
printf 'FROM scratch\nCOPY data.txt /data.txt\n' >"$project/docker/hello/Dockerfile"
echo hello >"$project/docker/hello/data.txt"
printf 'registry: %s\nimage_prefix: bench-up-%s\n' "$KO_REGISTRY" "$$" >"$project/kube-openstack.yaml"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$work" "$work" >"$work/storage.conf"
export CONTAINERS_STORAGE_CONF=$work/storage.conf
# Count builder invocations through a wrapper first on PATH.
printf '#!/bin/sh\necho "$*" >> %s/builder.log\nexec %s "$@"\n' "$work" "$(command -v buildah)" >"$work/bin/buildah"
chmod +x "$work/bin/buildah"
export PATH=$work/bin:$PATH
touch "$work/builder.log"

"$fake" --kubeconfig "$work/kubeconfig" --latency-ms "$LATENCY_MS" >"$work/fake.url" &
fake_pid=$!
for _ in $(seq 200); do grep -q '^http' "$work/fake.url" 2>/dev/null && break; sleep 0.05; done
url=$(head -1 "$work/fake.url")
[ -n "$url" ] || { say "the fake API server did not start"; exit 2; }
cluster=(--kubeconfig "$work/kubeconfig" -n bench)

# Requests logged so far: "total writes".
requests() {
    curl -sSf "$url/fake/log" | python3 -c '
import json, sys
log = json.load(sys.stdin)
print(len(log), sum(1 for e in log if e["method"] != "GET" and "dryRun" not in e.get("query", "")))'
}
builds() { wc -l <"$work/builder.log"; }
now() { date +%s.%N; }

# One timed run of CMD...: prints "seconds requests writes builder-calls".
measure() {
    local r0 w0 b0 t0 t1 r1 w1 b1
    read -r r0 w0 < <(requests); b0=$(builds); t0=$(now)
    (cd "$project" && "$@") >"$work/out" 2>"$work/err" || { say "failed: $*"; tail -20 "$work/err" >&2; exit 1; }
    t1=$(now); read -r r1 w1 < <(requests); b1=$(builds)
    python3 -c "print(f'{$t1 - $t0:.3f} $((r1 - r0)) $((w1 - w0)) $((b1 - b0))')"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

say "first up (from nothing)"
read -r first_s first_r first_w first_b < <(measure "$bin" up "${cluster[@]}")

cat >"$work/baseline.sh" <<EOF
#!/bin/sh
set -e
"$bin" render --force
"$bin" images
"$bin" deploy --kubeconfig "$work/kubeconfig" -n bench --no-progress
EOF
chmod +x "$work/baseline.sh"
: >"$work/up.txt"; : >"$work/base.txt"
for i in $(seq "$runs"); do
    say "unchanged run $i/$runs: up, then render + images + deploy"
    measure "$bin" up "${cluster[@]}" >>"$work/up.txt"
    grep -q 'Up to date' "$work/err" || { say "the unchanged up did something:"; cat "$work/err" >&2; exit 1; }
    measure "$work/baseline.sh" >>"$work/base.txt"
done

col() { awk "{print \$$1}" "$2" | median; }
printf '\nshipped tree, 1 image, fake API latency %s ms, %s runs (medians)\n\n' "$LATENCY_MS" "$runs"
printf '| run | wall (s) | API requests | of which writes | builder calls |\n|---|---:|---:|---:|---:|\n'
printf '| first `up` (from nothing) | %s | %s | %s | %s |\n' "$first_s" "$first_r" "$first_w" "$first_b"
printf '| baseline: `render && images && deploy`, unchanged | %s | %s | %s | %s |\n' \
    "$(col 1 "$work/base.txt")" "$(col 2 "$work/base.txt")" "$(col 3 "$work/base.txt")" "$(col 4 "$work/base.txt")"
printf '| `up`, unchanged | %s | %s | %s | %s |\n' \
    "$(col 1 "$work/up.txt")" "$(col 2 "$work/up.txt")" "$(col 3 "$work/up.txt")" "$(col 4 "$work/up.txt")"
