#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs
#   1. cargo test (unit + CLI tests; the adversarial YAML tests read output with PyYAML),
#   2. the shipped tree rendered from nothing and checked by an independent Kubernetes
#      schema validator (kubernetes-validate, strict mode),
#   3. `diff` right after that render: must report no differences (exit 0).
# CI runs this as `.ci/run`. With CI set, a missing tool fails the tests instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test.sh: %s\n' "$*" >&2; }

export KO_VENV=${KO_VENV:-$PWD/.kube-openstack/venv}
# PyYAML for the tests, and kubernetes-validate, in one virtualenv (validate-manifests.sh
# creates it, installing python3-venv with apt-get when it is missing).
probe=$(mktemp -d); trap 'rm -rf "$probe"' EXIT
mkdir -p "$probe/empty"
scripts/validate-manifests.sh "$probe/empty" >/dev/null 2>&1 || scripts/validate-manifests.sh "$probe/empty"
"$KO_VENV/bin/python" -c 'import yaml' 2>/dev/null || "$KO_VENV/bin/python" -m pip install --quiet pyyaml
export KO_PYTHON="$KO_VENV/bin/python"

say "cargo test"
cargo test --locked --all-targets

say "rendering the shipped tree from nothing"
work="$probe/project"
mkdir -p "$work"
cp -r heat kubernetes-in kube-openstack.yaml "$work/"
bin=$PWD/target/debug/kube-openstack
(cd "$work" && "$bin" render)
scripts/validate-manifests.sh "$work/kubernetes"

say "diff right after render"
(cd "$work" && "$bin" diff)
say "all passed"
