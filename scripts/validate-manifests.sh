#!/usr/bin/env bash
# Validates every *.yaml under DIR against the Kubernetes OpenAPI schemas, in
# strict mode (unknown fields are errors), with the PyPI package
# kubernetes-validate, using the newest Kubernetes version it ships schemas for.
#
#   scripts/validate-manifests.sh DIR
#
# kubernetes-validate is installed, when missing, into a virtualenv at
# ${KO_VENV:-.kube-openstack/venv}, so the system Python stays clean. On a
# fresh Debian machine run as root, python3 and python3-venv are installed
# with apt-get first when they are missing.
#
# Environment:
#   KO_VENV                      virtualenv to use (created when missing)
#   KO_KUBERNETES_VALIDATE_SPEC  pip requirement to install (default: kubernetes-validate)
#   KO_KUBERNETES_VERSION        validate against this version instead of the newest
#
# Exit status: 0 when every object validates, 1 when any file fails to parse,
# an object fails validation or its kind has no schema, 2 on a usage or
# setup error.
set -euo pipefail

prog=${0##*/}
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "error: $*"; exit 2; }

usage() {
    cat >&2 <<EOF
usage: $prog DIR

Validates every *.yaml under DIR with kubernetes-validate --strict against the
newest Kubernetes version it ships schemas for.
EOF
}

case ${1-} in
    -h | --help) usage; exit 0 ;;
esac
if [[ $# -ne 1 ]]; then
    usage
    exit 2
fi
dir=$1
[[ -d $dir ]] || die "\`$dir\` is not a directory"

venv=${KO_VENV:-.kube-openstack/venv}
spec=${KO_KUBERNETES_VALIDATE_SPEC:-kubernetes-validate}

# python3 with the venv module; on Debian that is the python3-venv package.
ensure_python() {
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        return
    fi
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3 and python3-venv with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends python3 python3-venv >&2 \
            || die "cannot install python3-venv"
    else
        die "python3 with the venv module is needed (on Debian: apt-get install python3-venv)"
    fi
}

venv_ok() {
    [[ -x $venv/bin/python ]] && "$venv/bin/python" -c 'import kubernetes_validate' >/dev/null 2>&1
}

if ! venv_ok; then
    ensure_python
    if [[ ! -x $venv/bin/python ]]; then
        say "creating a virtualenv in \`$venv\`"
        mkdir -p "$(dirname "$venv")"
        python3 -m venv "$venv" || die "cannot create a virtualenv in \`$venv\`"
    fi
    say "installing \`$spec\` into \`$venv\`"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$spec" >&2 \
        || die "cannot install \`$spec\` with pip"
    venv_ok || die "\`$spec\` is installed but \`kubernetes_validate\` does not import"
fi

py=$venv/bin/python
kv_version=$("$py" -c 'import kubernetes_validate as kv; print(kv.__version__)')
k8s_version=${KO_KUBERNETES_VERSION:-$("$py" -c 'import kubernetes_validate as kv; print(kv.latest_version())')}

files=()
while IFS= read -r -d '' f; do
    files+=("$f")
done < <(find "$dir" -type f -name '*.yaml' -print0 | sort -z)
if [[ ${#files[@]} -eq 0 ]]; then
    die "no *.yaml files under \`$dir\`"
fi

say "validating ${#files[@]} files under \`$dir\` against Kubernetes $k8s_version (strict, kubernetes-validate $kv_version)"

# One Python process for all files (kubernetes-validate's CLI loads the
# schemas again for every file). A file that does not parse, an object that
# does not validate and an object whose kind has no schema are all errors.
"$py" - "$k8s_version" "${files[@]}" <<'PY'
import sys

import yaml
import kubernetes_validate as kv
from kubernetes_validate.utils import VersionNotSupportedError

# As kubernetes-validate's own reader: a plain `=` scalar is a string.
yaml.SafeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))

version, paths = sys.argv[1], sys.argv[2:]
objects = errors = 0
for path in paths:
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        print(f"ERROR {path}: cannot parse: {e}", file=sys.stderr)
        errors += 1
        continue
    for i, doc in enumerate(docs, 1):
        where = f"{path} (document {i})" if len(docs) > 1 else path
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            print(f"ERROR {where}: not a Kubernetes object (no kind/apiVersion)", file=sys.stderr)
            errors += 1
            continue
        name = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name', '?')}"
        objects += 1
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:
            field = ".".join(str(p) for p in e.path) or "(top level)"
            print(f"ERROR {where}: {name}: {field}: {e.message}", file=sys.stderr)
            errors += 1
        except kv.SchemaNotFoundError as e:
            print(f"ERROR {where}: {name}: {e.message}", file=sys.stderr)
            errors += 1
        except VersionNotSupportedError as e:
            print(f"ERROR kubernetes-validate has no schemas for Kubernetes {e.version}", file=sys.stderr)
            sys.exit(2)
        except Exception as e:  # a malformed object the validator trips on
            print(f"ERROR {where}: {name}: cannot validate: {e}", file=sys.stderr)
            errors += 1

print(f"{objects} objects in {len(paths)} files: {errors} error{'s' if errors != 1 else ''}",
      file=sys.stderr)
sys.exit(1 if errors else 0)
PY
