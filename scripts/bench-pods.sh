#!/usr/bin/env bash
# Start-up of the shipped tree on the real-pod cluster: the tree rendered on the defaults
# (images on the test registry, as scripts/test.sh builds them), `kube-openstack deploy`
# to the fake API server's real-pod node (`fake-kube-apiserver --real-pods`), then
# `kube-openstack db-sync --all`. A poller reads every pod through the API once a second
# and prints when each was first seen and when it was first Ready or failed (a failed or
# crash-looping container, an image it cannot pull, a spec it cannot run); the figure is
# the time until every pod is one or the other. The load average is printed before and
# after: the figures depend on what else the machine runs.
#
#   scripts/bench-pods.sh [DEPLOY_TIMEOUT]     # as root; default 150s, as the test
#
# Needs podman (root), buildah, the registry of scripts/dev-registry.sh (KO_REGISTRY,
# default 127.0.0.1:4999) holding the shipped images or able to take them.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout=${1:-150s}
say() { printf 'bench-pods: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "the real-pod node runs podman as root"; exit 2; }
for p in podman buildah curl python3; do
    command -v "$p" >/dev/null || { say "needs $p"; exit 2; }
done
registry=${KO_REGISTRY:-127.0.0.1:4999}
curl -sf -o /dev/null "http://$registry/v2/" ||
    { say "no registry at $registry: scripts/dev-registry.sh start"; exit 2; }

cargo build --quiet --bin kube-openstack --example fake-kube-apiserver
bin=$PWD/target/debug/kube-openstack          # debug builds: the containers dominate
fake=$PWD/target/debug/examples/fake-kube-apiserver

work=$(mktemp -d /var/tmp/bench-pods.XXXXXX)
fake_pid=
cleanup() {
    # Ctrl-C to the fake: its node removes every pod, container, network and address.
    if [ -n "$fake_pid" ]; then kill -INT "$fake_pid" 2>/dev/null || true; wait "$fake_pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cp -r heat kubernetes-in docker "$work/"
sed -e "s|^registry: .*|registry: \"$registry\"|" \
    -e "s|^stack_parameters: {}|stack_parameters:\n  docker_registry: \"$registry\"|" \
    kube-openstack.yaml >"$work/kube-openstack.yaml"
grep -q "docker_registry: \"$registry\"" "$work/kube-openstack.yaml" ||
    { say "kube-openstack.yaml no longer has 'stack_parameters: {}'"; exit 2; }

scripts/debian-base.sh >/dev/null 2>&1 || scripts/debian-base.sh
(cd "$work" && "$bin" render --quiet)
t0=$(date +%s.%N)
(cd "$work" && "$bin" images --no-progress 2>"$work/images.log") ||
    { tail -n 30 "$work/images.log" >&2; exit 2; }
images_s=$(awk "BEGIN{printf \"%.0f\", $(date +%s.%N) - $t0}")
say "images: ${images_s}s ($(grep -c 'Fresh' "$work/images.log" || true) up to date)"

"$fake" --real-pods bench-pods --kubeconfig "$work/kubeconfig" >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
for _ in $(seq 100); do [ -s "$work/fake.out" ] && break; sleep 0.2; done
url=$(head -n1 "$work/fake.out")
[ -n "$url" ] || { cat "$work/fake.err" >&2; exit 2; }

say "load before: $(uptime)"
python3 - "$url" "$work/done" >"$work/poll.txt" <<'EOF' &
# Polls the pods; writes one line per pod: first seen, first ready or failed (seconds
# from the start), and what it was.
import json, os, sys, time, urllib.request
url, done = sys.argv[1], sys.argv[2]
start = time.time()
seen, settled = {}, {}
def state(p):
    st = p.get("status", {})
    if st.get("phase") == "Succeeded":
        return "succeeded"
    if st.get("phase") == "Failed":
        return "failed"
    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions", [])):
        return "ready"
    for c in st.get("containerStatuses", []):
        w = c.get("state", {}).get("waiting", {}).get("reason", "")
        if w in ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "ErrImageNeverPull"):
            return "failed: " + w
        last = c.get("lastState", {}).get("terminated")
        if last and last.get("exitCode", 0) != 0:
            return "failed: exit %d" % last["exitCode"]
    return None
while True:
    finished = os.path.exists(done)
    try:
        with urllib.request.urlopen(url + "/api/v1/namespaces/openstack/pods", timeout=10) as r:
            pods = json.load(r)["items"]
    except Exception:
        pods = []
    now = time.time() - start
    for p in pods:
        # By uid: db-sync deletes a pod and makes a new one of the same name.
        name = (p["metadata"]["name"], p["metadata"]["uid"])
        seen.setdefault(name, now)
        s = state(p)
        if s and name not in settled:
            settled[name] = (now, s)
    if finished:
        break
    time.sleep(1)
for name in sorted(seen, key=seen.get):
    at, s = settled.get(name, (None, "neither ready nor failed"))
    print("%-30s seen %6.1fs  %s" % (name[0], seen[name], "settled %6.1fs  %s" % (at, s) if at is not None else s))
last = max((a for a, _ in settled.values()), default=0.0)
print("pods: %d; ready or failed: %d; all settled by %.0fs" % (len(seen), len(settled), last) if len(settled) == len(seen) else
      "pods: %d; ready or failed: %d; %d never settled" % (len(seen), len(settled), len(seen) - len(settled)))
EOF
poller=$!

t0=$(date +%s.%N)
(cd "$work" && "$bin" deploy --kubeconfig kubeconfig --timeout "$timeout" --no-progress >/dev/null 2>"$work/deploy.log") &&
    deploy_rc=0 || deploy_rc=$?
deploy_s=$(awk "BEGIN{printf \"%.0f\", $(date +%s.%N) - $t0}")
t1=$(date +%s.%N)
(cd "$work" && "$bin" db-sync --all --kubeconfig kubeconfig --timeout "$timeout" >/dev/null 2>"$work/db-sync.log") &&
    sync_rc=0 || sync_rc=$?
sync_s=$(awk "BEGIN{printf \"%.0f\", $(date +%s.%N) - $t1}")
touch "$work/done"
wait "$poller"
say "load after: $(uptime)"

cat "$work/poll.txt"
echo "images (cached): ${images_s}s"
echo "deploy: exit $deploy_rc after ${deploy_s}s ($(grep -c 'Skipped' "$work/deploy.log" || true) objects skipped)"
echo "db-sync --all: exit $sync_rc after ${sync_s}s"
