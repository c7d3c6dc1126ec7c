#!/usr/bin/env bash
# Render benchmark: a generated tree of N templates (about 40 lines and 12 placeholders
# each) rendered by `kube-openstack render`, side by side with `cp -r` of the same tree,
# the 2014 algorithm (a Python `re.sub` loop over `%name%`) and `envsubst` per file.
# Prints the median wall time, median CPU time and peak memory of each, and the render/cp
# ratios; `cp -r`, the render and the 2014 loop take turns run after run, and each render
# runs once before (deriving the proofs it keeps, as a first render after a change does). Then the size series: one template of 1, 2, 4, 8 and 16 MB (a ConfigMap whose
# placeholders grow with it) rendered alone, with each size's time over the one before
# (linear is 2.0); then the same templates with one helper (`{{default ...}}`), which no
# proof covers: compiled by Handlebars and parsed in full on every render.
#
# Usage: scripts/bench-render.sh [N] [RUNS]   (defaults: 10000 templates, median of 5 runs)
# BEFORE=/path/to/kube-openstack times that binary too, side by side (a build of an
# earlier commit); SIZES="1 2 4" changes the size series, SIZES= skips it.
set -euo pipefail
N=${1:-10000}
RUNS=${2:-5}
SIZES=${SIZES-1 2 4 8 16}
BEFORE=${BEFORE:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# A tmpfs by default: on ext4, creating 10,000 files right after deleting the previous
# run's 10,000 makes the kernel's inode allocator skip recently freed inodes one by one
# (ext4 `recently_deleted`), which swamps both `cp -r` and the render with noise.
# BENCH_DIR=/some/disk/path measures on a disk instead.
BENCH_DIR=${BENCH_DIR:-$( [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}" )}
WORK=$(mktemp -d "$BENCH_DIR/ko-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
command -v envsubst >/dev/null || { echo "error: envsubst is needed (apt-get install gettext-base)" >&2; exit 2; }

echo "building the release binary" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/kube-openstack"

echo "generating $N templates in $WORK" >&2
python3 - "$WORK" "$N" <<'PY'
import os, sys
work, n = sys.argv[1], int(sys.argv[2])
names = [f"param_{i:02d}" for i in range(24)]
with open(f"{work}/params.yaml", "w") as f:
    for i, k in enumerate(names):
        f.write(f"{k}: \"value-{i}-Zq3xK9pLm2Rt7Vw\"\n")
with open(f"{work}/env.sh", "w") as f:
    for i, k in enumerate(names):
        f.write(f"export {k}='value-{i}-Zq3xK9pLm2Rt7Vw'\n")
# One template body, in three placeholder syntaxes: Handlebars, 2014 %name%, envsubst ${name}.
body = """apiVersion: v1
kind: ReplicationController
metadata:
  name: svc-{i}
  labels:
    app.kubernetes.io/name: svc-{i}
    app.kubernetes.io/part-of: openstack
    app.kubernetes.io/managed-by: kube-openstack
spec:
  replicas: 3
  selector:
    app.kubernetes.io/name: svc-{i}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: svc-{i}
    spec:
      containers:
      - name: api
        image: {P0}/{P1}/svc:{P2}
        ports:
        - containerPort: 8080
        env:
        - name: DB_URI
          value: mysql+pymysql://svc:{P3}@{P4}/svc?charset=utf8
        - name: RABBITMQ_PASSWORD
          value: {P5}
        - name: ADMIN_PASSWORD
          value: {P6}
        - name: REGION
          value: {P7}
        - name: KEYSTONE_URL
          value: http://{P8}:5000/v3
        - name: EXTRA
          value: {P9}-{P10}
        command: [svc-api, --config-file, /etc/svc/{P11}.conf]
        readinessProbe:
          httpGet: {{path: /, port: 8080}}
"""
styles = {"hbs": "{{{{{}}}}}", "pct": "%{}%", "env": "${{{}}}"}
for style, fmt in styles.items():
    d = f"{work}/in-{style}"
    for i in range(n):
        sub = f"{d}/group-{i % 50:02d}"
        if i < 50:
            os.makedirs(sub, exist_ok=True)
        ps = {f"P{j}": fmt.format(names[(i + j) % len(names)]) for j in range(12)}
        with open(f"{sub}/svc-{i}.yaml", "w") as f:
            f.write(body.format(i=i, **ps))
PY
cat > "$WORK/resub.py" <<'PY'
# The 2014 algorithm: a regex substitution of %name% per file, files written one by one.
import os, re, sys, yaml
src, dst, params = sys.argv[1], sys.argv[2], yaml.safe_load(open(sys.argv[3]))
pat = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
for dirpath, _, files in os.walk(src):
    out = os.path.join(dst, os.path.relpath(dirpath, src))
    os.makedirs(out, exist_ok=True)
    for name in files:
        text = open(os.path.join(dirpath, name)).read()
        open(os.path.join(out, name), "w").write(pat.sub(lambda m: str(params[m.group(1)]), text))
PY
cat > "$WORK/envsubst.sh" <<'SH'
set -e
. "$3"
cd "$1"
find . -type d -exec mkdir -p "$2/{}" \;
find . -type f -name '*.yaml' | while read -r f; do envsubst < "$f" > "$2/$f"; done
SH
cp "$WORK/params.yaml" "$WORK/in-hbs-params.yaml"
cat "$WORK"/in-*/group-00/svc-0.yaml > /dev/null  # warm the page cache

# One run of a command: wall time (a monotonic clock around it) and CPU time (user +
# system, from wait4) to the microsecond: the render and `cp -r` of the 10,000
# templates each take about a tenth of a second, where GNU time's hundredths move a
# ratio by a tenth. The command runs under GNU time all the same, for its peak RSS (KB):
# a process started from Python would count Python's own memory as the command's (a
# process keeps its peak across exec). GNU time adds the same fraction of a millisecond
# to every row.
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "error: GNU time is needed (apt-get install time)" >&2; exit 2; }
cat > "$WORK/run1.py" <<'PY'
import os, sys, time
err_file, mem_file, command = sys.argv[1], sys.argv[2], sys.argv[3:]
out = os.open(os.devnull, os.O_WRONLY)
err = os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
argv = ["/usr/bin/time", "-f", "%M", "-o", mem_file] + command
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ,
                     file_actions=[(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
peak = open(mem_file).read().split()[-1]
print(f"{wall:.4f} {usage.ru_utime + usage.ru_stime:.4f} {peak}")
sys.exit(os.waitstatus_to_exitcode(status))
PY

# median wall time, median CPU time (user + system) and the largest peak RSS (KB) of the
# runs recorded in the file $1
summary() {
    local wall cpu mem
    wall=$(cut -d' ' -f1 "$1" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    cpu=$(cut -d' ' -f2 "$1" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    mem=$(cut -d' ' -f3 "$1" | sort -g | tail -1)
    echo "$wall $cpu $mem"
}

# one run of a command that writes into $WORK/out, recorded in the file $1
run_into() {
    local runs=$1
    shift
    rm -rf "$WORK/out"
    python3 "$WORK/run1.py" "$WORK/err" "$WORK/mem" "$@" >> "$runs" || { cat "$WORK/err" >&2; exit 1; }
}

# [summary] of RUNS runs of a command that writes into $WORK/out
measure() {
    : > "$WORK/runs"
    for _ in $(seq "$RUNS"); do
        run_into "$WORK/runs" "$@"
    done
    summary "$WORK/runs"
}

# the arguments of a render of the tree $1 (after the binary), with the state directory
# $2 (each binary its own: a build reads only the proofs it kept itself)
args() { echo "-q render --input-dir $1 --output-dir $WORK/out --source file --params-file $WORK/params.yaml --state-dir $WORK/${2:-state}"; }

# `cp -r`, the render (and BEFORE) and the 2014 loop take turns, run after run, so that
# a slower moment of the machine falls on all of them alike; each render's first run,
# which derives the proofs it keeps, is left out. envsubst (seconds a run) runs alone.
: > "$WORK/runs-cp"; : > "$WORK/runs-ko"; : > "$WORK/runs-before"; : > "$WORK/runs-py"
rm -rf "$WORK/out"; "$BIN" $(args "$WORK/in-hbs") 2> /dev/null
[ -z "$BEFORE" ] || { rm -rf "$WORK/out"; "$BEFORE" $(args "$WORK/in-hbs" state-before) 2> /dev/null; }
for _ in $(seq "$RUNS"); do
    run_into "$WORK/runs-cp" cp -r "$WORK/in-hbs" "$WORK/out"
    run_into "$WORK/runs-ko" "$BIN" $(args "$WORK/in-hbs")
    [ -z "$BEFORE" ] || run_into "$WORK/runs-before" "$BEFORE" $(args "$WORK/in-hbs" state-before)
    run_into "$WORK/runs-py" python3 "$WORK/resub.py" "$WORK/in-pct" "$WORK/out" "$WORK/params.yaml"
done
cp_r=$(summary "$WORK/runs-cp")
ko=$(summary "$WORK/runs-ko")
[ -z "$BEFORE" ] || before=$(summary "$WORK/runs-before")
py=$(summary "$WORK/runs-py")
es=$(measure bash "$WORK/envsubst.sh" "$WORK/in-env" "$WORK/out" "$WORK/env.sh")

echo "$N templates, median of $RUNS runs, in $BENCH_DIR, $(nproc) cores, load average before the size series: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%-34s %10s %10s %14s\n' "tool ($N templates)" "wall (s)" "CPU (s)" "peak RSS (MB)"
row() { read -r t c m <<< "$2"; printf '%-34s %10.3f %10.3f %14.1f\n' "$1" "$t" "$c" "$(awk "BEGIN{print $m/1024}")"; }
row "cp -r (baseline)" "$cp_r"
row "kube-openstack render" "$ko"
[ -z "$BEFORE" ] || row "kube-openstack render (BEFORE)" "$before"
row "python re.sub loop (2014)" "$py"
row "envsubst per file" "$es"
read -r tc cc _ <<< "$cp_r"; read -r tk ck mk <<< "$ko"
awk "BEGIN{printf \"render / cp -r: wall %.2f (target <= 1.0), CPU %.2f (target <= 2.0); render peak RSS %.1f MB (target < 100)\n\", $tk/$tc, $ck/($cc > 0 ? $cc : 0.01), $mk/1024}"

[ -n "$SIZES" ] || exit 0
echo "generating one template of each size: $SIZES MB" >&2
for mb in $SIZES; do
    mkdir -p "$WORK/size-$mb" "$WORK/helper-$mb"
    python3 - "$WORK/size-$mb/big.yaml" "$WORK/helper-$mb/big.yaml" "$mb" <<'PY'
import sys
path, helper_path, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
names = [f"param_{i:02d}" for i in range(24)]
head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n"
# Keys whose value mixes text and placeholders (made double-quoted by the pre-pass),
# double-quoted values, and a literal block of lines with placeholders: 5 per entry.
entries, block, size, i = [], ["  policy.txt: |\n"], len(head), 0
while size < mb * 1024 * 1024:
    a, b, c = names[i % 24], names[(i + 7) % 24], names[(i + 13) % 24]
    e = f"  key-{i:07d}: pre-{{{{{a}}}}}-{{{{{b}}}}}\n  dq-{i:07d}: \"x {{{{{c}}}}} y\"\n"
    r = f"    rule {i}: {{{{{a}}}}} allows {{{{{b}}}}}\n"
    entries.append(e); block.append(r); size += len(e) + len(r); i += 1
body = "".join(entries) + "".join(block)
open(path, "w").write(head + body)
# The same with a helper: no proof, so Handlebars compiles it and its output is parsed.
open(helper_path, "w").write(head + "  fallback: {{default \"none\" param_00}}\n" + body)
PY
done
printf '\n%-44s %10s %10s %14s %8s\n' "one template of" "wall (s)" "CPU (s)" "peak RSS (MB)" "x prev"
series() {
    local label=$1 bin=$2 kind=${3:-size} state=${4:-state} prev="" r t c m n
    for mb in $SIZES; do
        r=$(measure "$bin" $(args "$WORK/$kind-$mb" "$state"))
        read -r t c m <<< "$r"
        n=$(grep -o '{{' "$WORK/$kind-$mb/big.yaml" | wc -l)
        printf '%-44s %10.3f %10.3f %14.1f %8s\n' "$mb MB, $n placeholders$label" "$t" "$c" "$(awk "BEGIN{print $m/1024}")" \
            "$([ -z "$prev" ] && echo - || awk "BEGIN{printf \"%.2f\", $t/($prev > 0 ? $prev : 0.01)}")"
        prev=$t
    done
}
series "" "$BIN"
[ -z "$BEFORE" ] || series " (BEFORE)" "$BEFORE" size state-before
series ", helper" "$BIN" helper
# BEFORE_HELPERS=1 times the earlier binary on the helper series too (it may take minutes).
[ -z "$BEFORE" ] || [ -z "${BEFORE_HELPERS:-}" ] || series ", helper (BEFORE)" "$BEFORE" helper state-before
