#!/usr/bin/env bash
# Rollouts and early failure on the real-pod cluster (every pod a podman container):
#   - a ReplicationController of 3 replicas whose template changes: the wall time of
#     `deploy` rolling it, and the fewest Ready pods a poller (every 50 ms, through the
#     API server's store) saw during it;
#   - the time from `deploy` start to its failure report for a workload whose image is
#     missing from the registry, and for one whose command crashes (the kubelet's own
#     back-off: restart at once, then 10 s).
# Each figure comes from the real-pod tests that assert it (tests/cli/real_rollouts.rs),
# run RUNS times one after another; the load average is printed before and after, since
# the figures depend on what else the machine runs.
#
#   scripts/bench-rollout.sh [RUNS]     # as root; default 3 runs
#
# Needs podman (root), buildah, busybox-static and the registry of
# scripts/dev-registry.sh (KO_REGISTRY, default 127.0.0.1:4999).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
say() { printf 'bench-rollout: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "the real-pod node runs podman as root"; exit 2; }
export KO_REGISTRY=${KO_REGISTRY:-127.0.0.1:4999}
curl -sf -o /dev/null "http://$KO_REGISTRY/v2/" ||
    { say "no registry at $KO_REGISTRY: scripts/dev-registry.sh start"; exit 2; }
cargo test --quiet --test cli --no-run 2>/dev/null
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for i in $(seq "$runs"); do
    for t in real_rollouts::deploy_replaces real_rollouts::a_real_workload; do
        if cargo test --quiet --test cli -- --nocapture "$t" >"$log" 2>&1; then
            grep -E '^(real rollout|time to failure)' "$log" | sed "s/^/run $i: /"
        else
            say "run $i: $t failed:"; grep -v '^ *[0-9]*: \|^ *at ' "$log" | tail -20 >&2
        fi
    done
done
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
