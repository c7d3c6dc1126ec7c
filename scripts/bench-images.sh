#!/usr/bin/env bash
# Image build figures, side by side in one run, against the Swift-backed registry of
# scripts/dev-registry.sh (started when not running):
#
#   1. three independent contexts built and pushed one after another, as the 2014 build
#      script did (`buildah bud` then `buildah push`, per image) -- the baseline;
#   2. the same three contexts with `kube-openstack images --jobs N` (fresh prefix and
#      fresh storage, so everything is built and pushed);
#   3. `kube-openstack images` again with nothing changed.
#
# For each: wall time, and the requests the registry logged (its access log).
#
#   scripts/bench-images.sh [JOBS]      # JOBS defaults to 3
#   scripts/bench-images.sh tree [JOBS] # the shipped docker/ tree (see below)
#
# `tree` mode builds the shipped docker/ tree from nothing, side by side in one run:
#   1. the 2014 way -- `buildah bud` then `buildah push` per context, one after another,
#      with the vfs driver (bases first) -- the baseline;
#   2. `kube-openstack images --jobs JOBS` with the overlay driver (the tool's automatic
#      choice here), JOBS defaulting to the number of cores;
#   3. `kube-openstack images` again with nothing changed.
# Each arm gets a fresh image store holding only the Debian base (imported from the
# tarball scripts/debian-base.sh caches; not timed) and a fresh throwaway registry (see
# scripts/bench-images-tree.sh). For each: wall time, CPU time (user + system, all
# processes), registry requests, the image store's size and the load average.
#
# Each context is FROM scratch + busybox-static with one RUN step that writes and hashes
# 24 MiB of random data, so a build is real work for the builder (a layer to commit and
# push), not a no-op. The debug binary is used: its own CPU time is negligible here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = tree ]; then
    shift
    exec scripts/bench-images-tree.sh "$@"
fi
jobs=${1:-3}
say() { printf 'bench-images: %s\n' "$*" >&2; }

command -v buildah >/dev/null && command -v busybox >/dev/null || {
    say "needs buildah and busybox-static (apt-get install buildah busybox-static)"; exit 2; }
scripts/dev-registry.sh start
eval "$(scripts/dev-registry.sh env | sed 's/^/export /')"
cargo build --quiet
bin=$PWD/target/debug/kube-openstack

work=$(mktemp -d /tmp/bench-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkctx() { # DIR NAME
    mkdir -p "$1/$2"
    cp "$(command -v busybox)" "$1/$2/busybox"
    printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox dd if=/dev/urandom of=/blob-%s bs=1M count=24 2>/dev/null && /bin/busybox sha256sum /blob-%s"]\n' "$2" "$2" > "$1/$2/Dockerfile"
}
storage() { # DIR
    printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$1" "$1" > "$1.conf"
    echo "$1.conf"
}
requests_since() { # OFFSET -> count of access-log lines after it
    tail -c +"$(( $1 + 1 ))" "$KO_REGISTRY_LOG" | grep -c '" [0-9][0-9][0-9] ' || true
}
size() { stat -c %s "$KO_REGISTRY_LOG"; }
now() { date +%s.%N; }

names=(alpha beta gamma)
for n in "${names[@]}"; do mkctx "$work/seq" "$n"; mkctx "$work/par/docker" "$n"; done
run=$$-$(date +%s)

say "1/3: one after another (bud + push per image, as the 2014 script)"
export CONTAINERS_STORAGE_CONF; CONTAINERS_STORAGE_CONF=$(storage "$work/seq-storage")
off=$(size); t0=$(now)
for n in "${names[@]}"; do
    ref=$KO_REGISTRY/bench-seq-$run/$n:latest
    buildah --storage-driver vfs bud --isolation chroot -t "$ref" "$work/seq/$n" >"$work/seq-$n.log" 2>&1
    buildah --storage-driver vfs push --tls-verify=false "$ref" "docker://$ref" >>"$work/seq-$n.log" 2>&1
done
t1=$(now); seq_time=$(awk "BEGIN{print $t1 - $t0}"); seq_req=$(requests_since "$off")

say "2/3: kube-openstack images --jobs $jobs (first run)"
CONTAINERS_STORAGE_CONF=$(storage "$work/par-storage")
printf 'registry: %s\nimage_prefix: bench-par-%s\n' "$KO_REGISTRY" "$run" > "$work/par/kube-openstack.yaml"
off=$(size); t0=$(now)
(cd "$work/par" && "$bin" images --jobs "$jobs" 2>"$work/par-first.log")
t1=$(now); par_time=$(awk "BEGIN{print $t1 - $t0}"); par_req=$(requests_since "$off")

say "3/3: kube-openstack images again, nothing changed"
off=$(size); t0=$(now)
(cd "$work/par" && "$bin" images --jobs "$jobs" 2>"$work/par-second.log")
t1=$(now); again_time=$(awk "BEGIN{print $t1 - $t0}"); again_req=$(requests_since "$off")
builds_again=$(grep -c 'Building' "$work/par-second.log" || true)

printf '\n| run (3 independent contexts, build + push) | wall (s) | registry requests |\n|---|---:|---:|\n'
printf '| one after another, `buildah bud` + `buildah push` (2014 order, baseline) | %.1f | %s |\n' "$seq_time" "$seq_req"
printf '| `kube-openstack images --jobs %s`, first run | %.1f | %s |\n' "$jobs" "$par_time" "$par_req"
printf '| `kube-openstack images --jobs %s`, nothing changed | %.2f | %s |\n' "$jobs" "$again_time" "$again_req"
printf '\nsecond run: %s builds started; its summary: %s\n' "$builds_again" "$(grep Finished "$work/par-second.log" | sed 's/^ *//')"
