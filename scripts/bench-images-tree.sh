#!/usr/bin/env bash
# The `tree` mode of scripts/bench-images.sh (run it as `scripts/bench-images.sh tree`):
# the shipped docker/ tree from nothing, the 2014 way (vfs, one image after another)
# against `kube-openstack images` (overlay, in parallel), and the unchanged rerun.
#
# Everything it writes is throwaway and removed at the end, also on failure: image stores
# (their own graph and run roots) and a Docker Distribution registry with filesystem
# storage on 127.0.0.1:${KO_BENCH_REGISTRY_PORT:-5998}, all under one directory in
# ${TMPDIR:-/tmp}. The system's image store and any other registry are left alone. The
# baseline's store and registry are removed before the second arm starts, so the disk
# holds one arm at a time (about 7 GB for the vfs arm).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-$(nproc)}
port=${KO_BENCH_REGISTRY_PORT:-5998}
say() { printf 'bench-images: %s\n' "$*" >&2; }

command -v buildah >/dev/null || { say "needs buildah (apt-get install buildah)"; exit 2; }
command -v docker-registry >/dev/null || { say "needs docker-registry (apt-get install docker-registry)"; exit 2; }
! curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null ||
    { say "127.0.0.1:$port is taken: set KO_BENCH_REGISTRY_PORT"; exit 2; }
cargo build --quiet
bin=$PWD/target/debug/kube-openstack   # the debug binary: its own CPU time is negligible here

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-images-tree.XXXXXX")
registry_pid=
unmount_under() { # DIR: the overlay and bind mounts buildah left in a store under DIR
    { grep -o " $1/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
}
stop_registry() {
    [ -n "$registry_pid" ] || return 0
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
    registry_pid=
}
cleanup() { stop_registry; unmount_under "$work"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

start_registry() { # DIR: a fresh registry stored in DIR; its access log is DIR.log
    mkdir -p "$1"
    printf 'version: 0.1\nlog: {level: warn, accesslog: {disabled: false}}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$1" "$port" > "$1.yml"
    docker-registry serve "$1.yml" > "$1.log" 2>&1 &
    registry_pid=$!
    KO_REGISTRY_LOG=$1.log
    for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && return; sleep 0.1; done
    say "the throwaway registry did not start:"; tail -n 20 "$1.log" >&2; exit 2
}
registry=127.0.0.1:$port
storage() { # DIR DRIVER -> a storage.conf for a fresh store in DIR (no driver: buildah chooses)
    { printf '[storage]\n'; [ -z "$2" ] || printf 'driver = "%s"\n' "$2"
      printf 'graphroot = "%s/graph"\nrunroot = "%s/run"\n' "$1" "$1"; } > "$1.conf"
    echo "$1.conf"
}
base() { # STORAGE_CONF DRIVER: the Debian base, made once and imported (not timed)
    CONTAINERS_STORAGE_CONF=$1 STORAGE_DRIVER=$2 scripts/debian-base.sh >/dev/null 2>&1 ||
        { CONTAINERS_STORAGE_CONF=$1 STORAGE_DRIVER=$2 scripts/debian-base.sh; exit 2; }
}
requests_since() { tail -c +"$(( $1 + 1 ))" "$KO_REGISTRY_LOG" | grep -c '" [0-9][0-9][0-9] ' || true; }
size() { stat -c %s "$KO_REGISTRY_LOG"; }
# cpu sets CPU to the CPU seconds (user + system) of this shell's finished children so
# far. `times` must run in this shell: in a pipe or $(...) it would report a subshell's.
cpu() {
    times > "$work/times"
    CPU=$(awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$work/times")
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
measure() { # NAME COMMAND...: wall and CPU seconds, registry requests, load before/after
    local name=$1 off c0 t0 t1 c1 l0; shift
    off=$(size); cpu; c0=$CPU; t0=$(date +%s.%N); l0=$(load)
    "$@"
    t1=$(date +%s.%N); cpu; c1=$CPU
    printf -v "${name}_wall" '%.1f' "$(awk "BEGIN{print $t1 - $t0}")"
    printf -v "${name}_cpu" '%.0f' "$(awk "BEGIN{print $c1 - $c0}")"
    printf -v "${name}_req" '%s' "$(requests_since "$off")"
    printf -v "${name}_load" '%s -> %s' "$l0" "$(load)"
}

# Both arms build the same copy of docker/, taken now.
cp -a docker "$work/docker"
# Bases first (a context FROM ${IMAGE_PREFIX}/X waits for X), then the rest by name.
bases=$(sed -n 's|^FROM ${IMAGE_PREFIX}/\([^:]*\):.*|\1|p' "$work"/docker/*/Dockerfile | sort -u)
order=$(for b in $bases; do echo "$b"; done; for d in "$work"/docker/*/; do n=$(basename "$d"); grep -qx "$n" <<<"$bases" || echo "$n"; done)
count=$(wc -w <<<"$order")

sequential() { # the 2014 build script: bud + push per image, every time
    local prefix=$registry/bench-seq n ref
    for n in $order; do
        ref=$prefix/$n:latest
        buildah bud --isolation chroot --build-arg "IMAGE_PREFIX=$prefix" --build-arg IMAGE_TAG=latest \
            -t "$ref" "$work/docker/$n" >"$work/seq-$n.log" 2>&1 || { tail -n 20 "$work/seq-$n.log" >&2; exit 2; }
        buildah push --tls-verify=false "$ref" "docker://$ref" >>"$work/seq-$n.log" 2>&1 ||
            { tail -n 20 "$work/seq-$n.log" >&2; exit 2; }
    done
}
tool() { # LOG
    "$bin" images --docker-dir "$work/docker" --registry "$registry" --image-prefix bench-par --jobs "$jobs" \
        --state-dir "$work/state" --no-progress 2>"$work/$1" || { tail -n 30 "$work/$1" >&2; exit 2; }
}
export CONTAINERS_STORAGE_CONF

say "1/3: the 2014 way: $count contexts, buildah bud + push one after another, vfs"
CONTAINERS_STORAGE_CONF=$(storage "$work/seq" vfs)
base "$CONTAINERS_STORAGE_CONF" vfs
start_registry "$work/seq-registry"
measure seq sequential
seq_disk=$(du -sm "$work/seq" | cut -f1)
stop_registry; unmount_under "$work/seq"; rm -rf "$work/seq" "$work/seq-registry"

say "2/3: kube-openstack images --jobs $jobs, from nothing (storage chosen by the tool)"
CONTAINERS_STORAGE_CONF=$(storage "$work/par" "")
base "$CONTAINERS_STORAGE_CONF" ""
start_registry "$work/par-registry"
measure par tool par-first.log
driver=$(grep -o 'Storage [a-z0-9]* driver' "$work/par-first.log" | awk '{print $2}')
par_disk=$(du -sm "$work/par" | cut -f1)

say "3/3: kube-openstack images again, nothing changed"
measure again tool par-second.log
builds_again=$(grep -c ' Building ' "$work/par-second.log" || true)

printf '\n| the shipped docker/ tree (%s contexts), build + push | wall (s) | CPU (s) | registry requests | image store (MB) | load average before -> after |\n|---|---:|---:|---:|---:|---|\n' "$count"
printf '| one after another, `buildah bud` + `buildah push`, vfs (2014 order, baseline) | %s | %s | %s | %s | %s |\n' "$seq_wall" "$seq_cpu" "$seq_req" "$seq_disk" "$seq_load"
printf '| `kube-openstack images --jobs %s`, %s, from nothing | %s | %s | %s | %s | %s |\n' "$jobs" "$driver" "$par_wall" "$par_cpu" "$par_req" "$par_disk" "$par_load"
printf '| `kube-openstack images --jobs %s`, nothing changed | %s | %s | %s | - | %s |\n' "$jobs" "$again_wall" "$again_cpu" "$again_req" "$again_load"
printf '\nsecond run: %s builds started; %s\n' "$builds_again" "$(grep Finished "$work/par-second.log" | sed 's/^ *//')"
printf 'cores: %s; uptime at the end: %s\n' "$(nproc)" "$(uptime)"
