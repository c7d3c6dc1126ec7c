#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then
#   1. renders the shipped tree from nothing and checks it with an independent Kubernetes
#      schema validator (kubernetes-validate, strict mode, in a virtualenv that
#      scripts/validate-manifests.sh creates; PyYAML comes with it),
#   2. checks that `diff` right after that render reports no differences (exit 0),
#   3. runs cargo test (unit + CLI tests; the adversarial YAML tests read the output back
#      with that virtualenv's PyYAML, a YAML 1.1 reader like Kubernetes').
# CI runs this as `.ci/run`. With CI set, a missing tool fails the tests instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test.sh: %s\n' "$*" >&2; }
export KO_VENV=${KO_VENV:-$PWD/.kube-openstack/venv}

say "building"
cargo build --locked
bin=$PWD/target/debug/kube-openstack

say "rendering the shipped tree from nothing"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
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

say "cargo test"
cargo test --locked --all-targets
