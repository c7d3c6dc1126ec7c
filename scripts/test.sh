#!/usr/bin/env bash
# The whole test suite, from a fresh machine: checks formatting (cargo fmt), lints
# (cargo clippy -D warnings) and the direction of dependencies between the crate's modules
# (scripts/check-layers.py), installs what the tests need, then
#   1. renders the shipped tree from nothing and checks it with an independent Kubernetes
#      schema validator (kubernetes-validate, strict mode, in a virtualenv that
#      scripts/validate-manifests.sh creates; PyYAML comes with it),
#   2. checks that `diff` right after that render reports no differences (exit 0),
#   3. builds and pushes every image of docker/ (nothing when the registry has them),
#   4. runs cargo test (unit + CLI tests; the adversarial YAML tests read the output back
#      with that virtualenv's PyYAML, a YAML 1.1 reader like Kubernetes').
# CI runs this as `.ci/run`. With CI set, a missing tool fails the tests instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test.sh: %s\n' "$*" >&2; }

# Commands run on exit, last registered first (services stop even when a step fails).
cleanups=()
on_exit() { cleanups=("$1" "${cleanups[@]}"); }
run_cleanups() { for c in "${cleanups[@]}"; do eval "$c" || true; done; }
trap run_cleanups EXIT

# Installs the Debian packages that are missing (naming an installed one would upgrade it).
need_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    local apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900)
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 ||
        { "${apt[@]}" update >&2 && "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; }
}
export KO_VENV=${KO_VENV:-$PWD/.kube-openstack/venv}

say "checking formatting and lints"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
say "checking the dependency rule (scripts/check-layers.py)"
python3 scripts/check-layers.py

say "building"
cargo build --locked
bin=$PWD/target/debug/kube-openstack

say "rendering the shipped tree from nothing"
work=$(mktemp -d); on_exit 'rm -rf "$work"'
cp -r heat kubernetes-in kube-openstack.yaml "$work/"
(cd "$work" && "$bin" render)
scripts/validate-manifests.sh "$work/kubernetes"

say "diff right after render"
(cd "$work" && "$bin" diff)

"$KO_VENV/bin/python" -c 'import yaml' 2>/dev/null || "$KO_VENV/bin/python" -m pip install --quiet pyyaml
export KO_PYTHON="$KO_VENV/bin/python"
# --- services the tests need: each script installs its own packages, starts its
# --- daemons on 127.0.0.1 and exports what the tests read (KO_* variables).
# deploy: no Kubernetes API server can be installed here; the tests start the fake one of
# tests/support/fake_kube inside the test binary, on 127.0.0.1 with a port of its own.

# Programs the tests call directly: cloud-init (its own user-data parser and part-handler
# walker check `userdata` bundles), buildah and busybox-static (image builds), curl,
# openssl (a private CA for the TLS tests), bash, zsh, fish and man (the completion
# scripts and manual pages as users load them).
# The test binaries compile while packages install and the services start (mostly
# waiting on disk and network): the longest parts of a clean run, overlapped.
say "building the tests (in the background)"
cargo test --locked --all-targets --no-run >"$work/test-build.log" 2>&1 &
test_build=$!
on_exit "kill $test_build 2>/dev/null"

need_packages cloud-init buildah busybox-static curl openssl bash zsh fish man-db

# A service that was already running (a developer's, shared by other work) is used and
# left running; one this run starts, it stops.
say "starting Keystone + Heat (scripts/openstack-aio.sh)"
scripts/openstack-aio.sh running || on_exit 'scripts/openstack-aio.sh stop'
scripts/openstack-aio.sh start >/dev/null
eval "$(scripts/openstack-aio.sh env)"

say "starting Swift + Docker Distribution on :4999 (scripts/dev-registry.sh)"
scripts/dev-registry.sh running || on_exit 'scripts/dev-registry.sh stop'
scripts/dev-registry.sh start
eval "$(scripts/dev-registry.sh env | sed 's/^/export /')"

# --- real-pod cluster (tests/cli/real_*.rs): the node of tests/support/fake_kube runs
# --- every pod with rootful podman. runc (crun and runc refuse the default resource limits
# --- on this kind of machine; the node lowers them in a containers.conf of its own),
# --- catatonit (podman builds its pod infra image, localhost/podman-pause, from it: no
# --- image is pulled from a hub), netavark and iptables (each test's bridge network),
# --- iproute2 (Service addresses on the loopback). The tests build their own small
# --- images (FROM scratch + busybox-static, with buildah) into the registry above.
say "real-pod cluster: podman"
[ "$(id -u)" -eq 0 ] || { say "the real-pod tests run podman as root"; [ -z "${CI:-}" ] || exit 1; }
need_packages podman runc catatonit netavark iptables iproute2
podman --version >&2

# --- images: every docker/ context built and pushed to the test registry under the
# --- shipped naming (prefix kube-openstack), in this machine's image store, on the Debian
# --- base scripts/debian-base.sh makes here. Content-hash tags: on a machine that already
# --- has them this checks the registry and builds nothing. The image tests
# --- (images_shipped) then run every image with podman.
need_packages buildah debootstrap podman runc catatonit
say "building the images (scripts/debian-base.sh, then kube-openstack images)"
scripts/debian-base.sh
"$bin" images --registry "$KO_REGISTRY" --image-prefix kube-openstack --no-progress
# --- end of images

say "waiting for the test build"
wait "$test_build" || { cat "$work/test-build.log" >&2; say "the tests do not build"; exit 1; }
say "cargo test"
cargo test --locked --all-targets
