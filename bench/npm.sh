#!/usr/bin/env bash
# kiln's native npm packer against `npm pack` on a generated ~5k-file package.
#
#   bench/npm.sh [FILES] [RUNS]
#
# Both packers run alternately in one invocation on the same directory; the
# script prints each run, the medians, the ratio (bar: kiln >= 10x faster) and
# whether the uncompressed tars are identical. Needs node/npm and python3.
# Then, as users run it: `kiln build` (release binary) of the same package
# committed to git, every run a new derivation (a new SOURCE_DATE_EPOCH)
# into one store — snapshot, planning, packing from the snapshot, store
# registration, provenance and dist/ — against `npm pack` again.
set -euo pipefail

files=${1:-5000}
runs=${2:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-npm.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

cargo build --quiet --release --example npm_pack --bin kiln --manifest-path "$root/Cargo.toml"
packer="$root/target/release/examples/npm_pack"
kiln="$root/target/release/kiln"

# A package shaped like a large real one: nested dirs, mixed case, long
# paths, an .npmignore, a bin.
python3 - "$work/pkg" "$files" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(5000)
words = ["core", "Util", "helpers", "a-b", "a.b", "index", "Zeta", "alpha", "x1", "x10", "_private", "café"]
exts = ["js", "mjs", "d.ts", "json", "md", "css", "map", "JS"]
os.makedirs(root)
with open(os.path.join(root, "package.json"), "w") as f:
    f.write('{"name":"@bench/large","version":"1.0.0","main":"index.js","bin":{"large":"bin/large.js"}}\n')
os.makedirs(os.path.join(root, "bin"))
open(os.path.join(root, "bin/large.js"), "w").write("#!/usr/bin/env node\n")
open(os.path.join(root, "index.js"), "w").write("module.exports = 1;\n")
open(os.path.join(root, ".npmignore"), "w").write("*.map\n")
made = 0
while made < n:
    parts = [rnd.choice(words) for _ in range(rnd.randrange(0, 4))]
    if rnd.randrange(40) == 0:
        parts.append("a-rather-long-directory-name-that-pushes-the-path-beyond-one-hundred-bytes-in-the-ustar-header")
    name = "%s%d.%s" % (rnd.choice(words), rnd.randrange(500), rnd.choice(exts))
    p = os.path.join(root, *parts, name)
    if os.path.exists(p) or any(os.path.isfile(os.path.join(root, *parts[:i + 1])) for i in range(len(parts))):
        continue
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write("// %s\n%s\n" % (name, "x" * rnd.randrange(2000)))
    made += 1
PY

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
export npm_config_cache="$work/npm-cache" npm_config_loglevel=error npm_config_update_notifier=false

: > "$work/npm.ms"; : > "$work/kiln.ms"
for i in $(seq 1 "$runs"); do
  rm -rf "$work/out-npm" "$work/out-kiln"; mkdir -p "$work/out-npm" "$work/out-kiln"
  t0=$(now); (cd "$work/pkg" && npm pack --ignore-scripts --pack-destination "$work/out-npm" >/dev/null)
  t1=$(now); "$packer" "$work/pkg" "$work/out-kiln" >/dev/null
  t2=$(now)
  echo $(( (t1 - t0) / 1000000 )) >> "$work/npm.ms"
  echo $(( (t2 - t1) / 1000000 )) >> "$work/kiln.ms"
  echo "run $i: npm pack $(( (t1 - t0) / 1000000 )) ms, kiln $(( (t2 - t1) / 1000000 )) ms"
done

npm_med=$(median < "$work/npm.ms")
kiln_med=$(median < "$work/kiln.ms")
entries=$(tar -tzf "$work"/out-kiln/*.tgz | wc -l)
same=no
if cmp -s <(gzip -dc "$work"/out-npm/*.tgz) <(gzip -dc "$work"/out-kiln/*.tgz); then same=yes; fi
ratio=$(awk -v a="$npm_med" -v b="$kiln_med" 'BEGIN {printf "%.1f", a / b}')
echo
echo "entries: $entries, runs: $runs (alternating), uncompressed tar identical: $same"
echo "median npm pack: ${npm_med} ms"
echo "median kiln:     ${kiln_med} ms"
echo "ratio: ${ratio}x (bar: >= 10x)"

# kiln build, end to end, on the package committed to git.
mkdir -p "$work/pkg/recipes"
printf '[version]\nsource = "npm"\n' > "$work/pkg/recipes/release.toml"
printf 'surface = "npm"\n' > "$work/pkg/recipes/pkg.toml"
# kiln's recipes and dist/ are not part of the package, for either packer.
printf 'recipes/\ndist/\n' >> "$work/pkg/.npmignore"
git -C "$work/pkg" init -q
git -C "$work/pkg" add -A
git -C "$work/pkg" -c user.name=bench -c user.email=bench@localhost commit -qm bench
: > "$work/npm2.ms"; : > "$work/build.ms"
epoch=1800000000
for i in $(seq 1 "$runs"); do
  rm -rf "$work/out-npm"; mkdir -p "$work/out-npm"
  epoch=$((epoch + 1))
  t0=$(now); (cd "$work/pkg" && npm pack --ignore-scripts --pack-destination "$work/out-npm" >/dev/null)
  t1=$(now); SOURCE_DATE_EPOCH=$epoch "$kiln" -C "$work/pkg" --store "$work/store" build --version 1.0.0 pkg >/dev/null 2>&1
  t2=$(now)
  echo $(( (t1 - t0) / 1000000 )) >> "$work/npm2.ms"
  echo $(( (t2 - t1) / 1000000 )) >> "$work/build.ms"
  echo "run $i: npm pack $(( (t1 - t0) / 1000000 )) ms, kiln build $(( (t2 - t1) / 1000000 )) ms"
done
npm2_med=$(median < "$work/npm2.ms")
build_med=$(median < "$work/build.ms")
same=no
if cmp -s <(gzip -dc "$work"/out-npm/*.tgz) <(gzip -dc "$work"/pkg/dist/*.tgz); then same=yes; fi
echo
echo "kiln build, end to end: uncompressed tar identical to npm pack's: $same"
echo "median npm pack:   ${npm2_med} ms"
echo "median kiln build: ${build_med} ms"
echo "ratio: $(awk -v a="$npm2_med" -v b="$build_med" 'BEGIN {printf "%.1f", a / b}')x"
