#!/usr/bin/env bash
# kiln's native sdist + wheel (`kiln build` of two recipes: snapshot,
# workspace, metadata, archives, registration, dist/) against `uv build`
# (uv's built-in uv_build backend) and `python -m build --no-isolation`
# (hatchling), each making the sdist and the wheel of the same generated
# package (~2,000 modules, ~8 MB), alternated in one run. Every kiln run is a
# real build (a fresh SOURCE_DATE_EPOCH makes a new derivation). Prints
# medians of wall time and of CPU time (user+sys) and the ratios (issue bar:
# kiln >= 5x faster than both).
#
#   bench/python.sh [MODULES] [RUNS]
#
# Needs python3 with `build` and `hatchling`, and uv (pip install uv build hatchling).
set -euo pipefail

modules=${1:-2000}
runs=${2:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-python.XXXXXX")
trap 'rm -rf "$work"' EXIT

cargo build --quiet --release --manifest-path "$root/Cargo.toml"
kiln="$root/target/release/kiln"

python3 - "$work/repo" "$modules" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(2000)
pkg = os.path.join(root, "py/src/bench_pkg")
os.makedirs(pkg)
open(os.path.join(root, "py/pyproject.toml"), "w").write('''[build-system]
requires = ["uv_build>=0.8,<0.14"]
build-backend = "uv_build"

[project]
name = "bench-pkg"
version = "1.0.0"
description = "generated"
readme = "README.md"
requires-python = ">=3.9"
license = "MIT"
dependencies = ["packaging>=20"]

[project.scripts]
bench-pkg = "bench_pkg:main"
''')
open(os.path.join(root, "py/README.md"), "w").write("# bench\n")
open(os.path.join(root, "py/LICENSE"), "w").write("MIT\n")
open(os.path.join(pkg, "__init__.py"), "w").write("def main():\n    pass\n")
words = ["core", "util", "helpers", "io", "net", "model", "view", "alpha", "beta", "gamma"]
total = 0
for made in range(n):
    parts = [rnd.choice(words) for _ in range(rnd.randrange(0, 3))]
    d = os.path.join(pkg, *parts)
    os.makedirs(d, exist_ok=True)
    for i in range(len(parts) + 1):
        ini = os.path.join(pkg, *parts[:i], "__init__.py")
        if not os.path.exists(ini):
            open(ini, "w").write("")
    body = "".join(
        "def f_%d_%d(x):\n    return x * %d + %r\n\n" % (made, j, rnd.randrange(10**6), "%x" % rnd.getrandbits(rnd.randrange(8, 240)))
        for j in range(rnd.randrange(30, 80))
    )
    open(os.path.join(d, "mod_%d.py" % made), "w").write(body)
    total += len(body)
os.makedirs(os.path.join(root, "recipes"))
# kiln's own writer (the project's uv_build backend is not installed).
open(os.path.join(root, "recipes/bench-sdist.toml"), "w").write('surface = "sdist"\nsource = "py"\n\n[sdist]\nbackend = "kiln"\n')
open(os.path.join(root, "recipes/bench-wheel.toml"), "w").write('surface = "wheel"\nsource = "py"\n\n[wheel]\nbackend = "kiln"\n')
print("package: %d modules, %.1f MB of source" % (n, total / 1e6))
PY
git -C "$work/repo" init -q
git -C "$work/repo" add -A
git -C "$work/repo" -c user.name=bench -c user.email=bench@example.invalid commit -qm bench
# hatchling's copy of the project
cp -r "$work/repo/py" "$work/hatch"
sed -i 's/requires = \["uv_build>=0.8,<0.14"\]/requires = ["hatchling"]/; s/build-backend = "uv_build"/build-backend = "hatchling.build"/' "$work/hatch/pyproject.toml"

now() { date +%s%N; }
cpu() { awk '{print $1 + $2}' "$1"; }   # user+sys seconds from `times`-style file
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timed() { # name cmd... : appends wall ms and cpu ms
  local name=$1; shift
  local t0 t1
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$work/$name.t" "$@" >/dev/null 2>&1
  t1=$(now)
  echo $(( (t1 - t0) / 1000000 )) >> "$work/$name.wall"
  awk '{printf "%d\n", ($1 + $2) * 1000}' "$work/$name.t" >> "$work/$name.cpu"
}

for n in kiln uv hatch; do : > "$work/$n.wall"; : > "$work/$n.cpu"; done
for i in $(seq 1 "$runs"); do
  rm -rf "$work/out-uv" "$work/out-h" "$work/repo/dist"
  timed kiln env SOURCE_DATE_EPOCH=$((1700000000 + i)) "$kiln" -C "$work/repo" --store "$work/store" build --version 1.0.0
  timed uv uv build --offline --no-config -q -o "$work/out-uv" "$work/repo/py"
  timed hatch python3 -m build --no-isolation -o "$work/out-h" "$work/hatch"
  echo "run $i: kiln $(tail -1 "$work/kiln.wall") ms, uv $(tail -1 "$work/uv.wall") ms, hatchling $(tail -1 "$work/hatch.wall") ms (wall)"
done
ls -l "$work/repo/dist"/*.whl "$work/repo/dist"/*.tar.gz "$work/out-uv"/* "$work/out-h"/* | awk '{print $5, $NF}'

for m in wall cpu; do
  k=$(median < "$work/kiln.$m"); u=$(median < "$work/uv.$m"); h=$(median < "$work/hatch.$m")
  echo "median $m ms: kiln $k, uv build $u, hatchling $h; uv/kiln $(awk -v a="$u" -v b="$k" 'BEGIN{printf "%.1f", a/b}')x, hatchling/kiln $(awk -v a="$h" -v b="$k" 'BEGIN{printf "%.1f", a/b}')x"
done
