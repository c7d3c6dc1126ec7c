#!/usr/bin/env bash
# Reading a Heat stack's outputs: `kube-openstack params refresh --source heat` (one token,
# the by-name lookup, one show) side by side with the OpenStack CLI most users would
# script it with, `openstack stack output show --all -f json` (the baseline), on the same
# stack made from the shipped heat/heat-setup.yaml, against the loopback Keystone + Heat
# of scripts/openstack-aio.sh. Prints the best and median wall time of RUNS runs each.
#
# Usage: scripts/bench-heat.sh [RUNS]   (default 5; starts the AIO when it is not running)
set -euo pipefail
RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/openstack-aio.sh start >/dev/null
eval "$(scripts/openstack-aio.sh env)"
export OS_AUTH_URL=$KO_OS_AUTH_URL OS_USERNAME=$KO_OS_USERNAME OS_PASSWORD=$KO_OS_PASSWORD \
    OS_PROJECT_NAME=$KO_OS_PROJECT_NAME OS_USER_DOMAIN_NAME=$KO_OS_USER_DOMAIN_NAME \
    OS_PROJECT_DOMAIN_NAME=$KO_OS_PROJECT_DOMAIN_NAME OS_REGION_NAME=$KO_OS_REGION_NAME \
    OS_IDENTITY_API_VERSION=3

echo "building the release binary" >&2
cargo build --release --quiet
BIN="$ROOT/target/release/kube-openstack"
work=$(mktemp -d)
stack=ko-bench-$$
cleanup() { (cd "$work" && "$BIN" -q stack delete --stack "$stack" --wait >/dev/null 2>&1 || true); rm -rf "$work"; }
trap cleanup EXIT
cp -r heat kubernetes-in kube-openstack.yaml "$work/"
cd "$work"
"$BIN" stack create --stack "$stack" --wait

# time_runs NAME COMMAND...: prints "NAME best median" in seconds.
time_runs() {
    local name=$1; shift
    local times=()
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name" '{a[NR]=$1} END {printf "| %s | %.2f | %.2f |\n", n, a[1], a[int((NR+1)/2)]}'
}

echo "| reading all outputs of the setup stack ($RUNS runs) | best (s) | median (s) |"
echo "|---|---:|---:|"
time_runs '`openstack stack output show --all -f json` (baseline)' openstack stack output show --all "$stack" -f json
time_runs '`kube-openstack params refresh --source heat`' "$BIN" params refresh --source heat --stack "$stack"
