#!/usr/bin/env bash
# The `tree` mode of scripts/bench-images.sh (run it as `scripts/bench-images.sh tree`):
# the shipped docker/ tree from nothing, the 2014 way (vfs, one image after another)
# against `kube-openstack images` (overlay, in parallel), and the unchanged rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-$(nproc)}
say() { printf 'bench-images: %s\n' "$*" >&2; }

command -v buildah >/dev/null || { say "needs buildah (apt-get install buildah)"; exit 2; }
scripts/dev-registry.sh start
eval "$(scripts/dev-registry.sh env | sed 's/^/export /')"
cargo build --quiet
bin=$PWD/target/debug/kube-openstack   # the debug binary: its own CPU time is negligible here

work=$(mktemp -d /var/tmp/bench-images-tree.XXXXXX)
trap 'rm -rf "$work"' EXIT
run=$$-$(date +%s)

storage() { # DIR DRIVER -> a storage.conf for a fresh store in DIR
    printf '[storage]\ndriver = "%s"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$2" "$1" "$1" > "$1.conf"
    echo "$1.conf"
}
base() { # STORAGE_CONF DRIVER: the Debian base, made once and imported (not timed)
    CONTAINERS_STORAGE_CONF=$1 STORAGE_DRIVER=$2 scripts/debian-base.sh >/dev/null 2>&1 ||
        { CONTAINERS_STORAGE_CONF=$1 STORAGE_DRIVER=$2 scripts/debian-base.sh; exit 2; }
}
requests_since() { tail -c +"$(( $1 + 1 ))" "$KO_REGISTRY_LOG" | grep -c '" [0-9][0-9][0-9] ' || true; }
size() { stat -c %s "$KO_REGISTRY_LOG"; }
# CPU seconds (user + system) of this shell's finished children so far.
cpu() { times | awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }'; }
measure() { # NAME COMMAND...: wall and CPU seconds, registry requests -> $NAME_{wall,cpu,req}
    local name=$1 off c0 t0 t1 c1; shift
    off=$(size); c0=$(cpu); t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N); c1=$(cpu)
    printf -v "${name}_wall" '%.0f' "$(awk "BEGIN{print $t1 - $t0}")"
    printf -v "${name}_cpu" '%.0f' "$(awk "BEGIN{print $c1 - $c0}")"
    printf -v "${name}_req" '%s' "$(requests_since "$off")"
}

# Bases first (a context FROM ${IMAGE_PREFIX}/X waits for X), then the rest by name.
bases=$(sed -n 's|^FROM ${IMAGE_PREFIX}/\([^:]*\):.*|\1|p' docker/*/Dockerfile | sort -u)
order=$(for b in $bases; do echo "$b"; done; for d in docker/*/; do n=$(basename "$d"); grep -qx "$n" <<<"$bases" || echo "$n"; done)
count=$(wc -w <<<"$order")

sequential() { # the 2014 build script: bud + push per image, every time
    local prefix=$KO_REGISTRY/bench-seq-$run n ref
    for n in $order; do
        ref=$prefix/$n:latest
        buildah bud --isolation chroot --build-arg "IMAGE_PREFIX=$prefix" --build-arg IMAGE_TAG=latest \
            -t "$ref" "docker/$n" >"$work/seq-$n.log" 2>&1 || { tail -n 20 "$work/seq-$n.log" >&2; exit 2; }
        buildah push --tls-verify=false "$ref" "docker://$ref" >>"$work/seq-$n.log" 2>&1 ||
            { tail -n 20 "$work/seq-$n.log" >&2; exit 2; }
    done
}
tool() { # LOG
    "$bin" images --registry "$KO_REGISTRY" --image-prefix "bench-par-$run" --jobs "$jobs" \
        --state-dir "$work/state" --no-progress 2>"$work/$1" || { tail -n 30 "$work/$1" >&2; exit 2; }
}

say "1/3: the 2014 way: $count contexts, buildah bud + push one after another, vfs"
export CONTAINERS_STORAGE_CONF; CONTAINERS_STORAGE_CONF=$(storage "$work/seq" vfs)
base "$CONTAINERS_STORAGE_CONF" vfs
measure seq sequential

say "2/3: kube-openstack images --jobs $jobs, from nothing (overlay)"
mkdir -p "$work/par"
printf '[storage]\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$work/par" "$work/par" > "$work/par.conf"
CONTAINERS_STORAGE_CONF=$work/par.conf
base "$CONTAINERS_STORAGE_CONF" ""
measure par tool par-first.log
driver=$(grep -o 'Storage [a-z0-9]* driver' "$work/par-first.log" | awk '{print $2}')

say "3/3: kube-openstack images again, nothing changed"
measure again tool par-second.log
builds_again=$(grep -c ' Building ' "$work/par-second.log" || true)

load=$(cut -d' ' -f1-3 /proc/loadavg)
printf '\n| the shipped docker/ tree (%s contexts), build + push | wall (s) | CPU (s) | registry requests |\n|---|---:|---:|---:|\n' "$count"
printf '| one after another, `buildah bud` + `buildah push`, vfs (2014 order, baseline) | %s | %s | %s |\n' "$seq_wall" "$seq_cpu" "$seq_req"
printf '| `kube-openstack images --jobs %s`, %s, from nothing | %s | %s | %s |\n' "$jobs" "$driver" "$par_wall" "$par_cpu" "$par_req"
printf '| `kube-openstack images --jobs %s`, nothing changed | %s | %s | %s |\n' "$jobs" "$again_wall" "$again_cpu" "$again_req"
printf '\nsecond run: %s builds started; %s\n' "$builds_again" "$(grep Finished "$work/par-second.log" | sed 's/^ *//')"
printf 'cores: %s; load average at the end: %s (other work on the machine shares the cores)\n' "$(nproc)" "$load"
