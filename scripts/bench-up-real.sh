#!/usr/bin/env bash
# `kube-openstack up` on the shipped tree, from nothing to `verify` passing, on the
# real-pod cluster: the end-to-end test (tests/cli/real_tree.rs) run once, with its
# figures: wall time of `up` split by step (its `-o json` rows), the second `up` (nothing
# to do), the openstack client's calls from outside, and the peak of the deployment's
# memory (the sum of every container's usage as `podman stats` reports it, sampled every
# 10 s). The load average is printed before and after: the figures depend on what else
# the machine runs.
#
#   scripts/bench-up-real.sh          # as root
#
# The images are those of the registry of scripts/dev-registry.sh (KO_REGISTRY), as
# scripts/test.sh builds them: when it lacks them, `up`'s images step builds and pushes
# them (see BENCHMARKS.md, "Images: the whole docker/ tree from nothing", for that time).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'bench-up-real: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "the real-pod node runs podman as root"; exit 2; }
scripts/dev-registry.sh start
eval "$(scripts/dev-registry.sh env | sed 's/^/export /')"
scripts/debian-base.sh >/dev/null
say "before: $(uptime)"
cargo test --quiet --test cli up_on_the_shipped_tree -- --nocapture
say "after: $(uptime)"
cat target/tmp/end-to-end-figures.txt
