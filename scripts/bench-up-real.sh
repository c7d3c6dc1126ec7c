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
#
#   FROM_NOTHING=1 scripts/bench-up-real.sh
#
# measures `up` with nothing built: an empty container storage of its own (the image
# builder's and the node's), the Debian base made again, and the images named under a
# new prefix the registry does not have, so `up`'s images step builds and pushes all of
# them. Only the registry's own image is copied under that prefix first: the in-cluster
# registry runs before anything can be pushed to it (README, "Deploying to a cluster").
# The storage is removed at the end; the pushed images stay in the registry's Swift.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'bench-up-real: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "the real-pod node runs podman as root"; exit 2; }
scripts/dev-registry.sh start
eval "$(scripts/dev-registry.sh env | sed 's/^/export /')"
if [ -n "${FROM_NOTHING:-}" ]; then
    prefix=from-nothing-$(date +%s)
    registry_image=docker-registry:latest
    buildah push --tls-verify=false "$KO_REGISTRY/kube-openstack/$registry_image" \
        "docker://$KO_REGISTRY/$prefix/$registry_image" >/dev/null
    storage=$(mktemp -d /var/tmp/ko-from-nothing.XXXXXX)
    trap 'rm -rf "$storage"' EXIT
    printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/run"\n' \
        "$storage" "$storage" > "$storage/storage.conf"
    export CONTAINERS_STORAGE_CONF=$storage/storage.conf KO_CACHE_DIR=$storage/cache
    export KO_E2E_IMAGE_PREFIX=$prefix
    say "from nothing: storage $storage, images under $KO_REGISTRY/$prefix"
    start=$(date +%s)
    scripts/debian-base.sh >/dev/null
    say "Debian base image made in $(( $(date +%s) - start ))s"
else
    scripts/debian-base.sh >/dev/null
fi
say "before: $(uptime)"
cargo test --quiet --test cli up_on_the_shipped_tree -- --nocapture
say "after: $(uptime)"
cat target/tmp/end-to-end-figures.txt
