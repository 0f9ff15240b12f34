#!/usr/bin/env bash
# `kiln diff` against `diffoscope` on two npm tarballs of ~5,000 files that
# differ in 10 files.
#
#   bench/diff.sh [FILES]        (KILN=path/to/kiln to use a given binary)
#
# Generates a package, packs it with `npm pack`, edits 10 files, packs it
# again, then runs each differ once on the pair and prints the times and the
# ratio (bar: kiln >= 20x faster). Needs node/npm, python3 and diffoscope.
set -euo pipefail

files=${1:-5000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-diff.XXXXXX")
trap 'rm -rf "$work"' EXIT

# KILN=path/to/kiln skips the release build (e.g. to time a debug binary)
if [ -z "${KILN:-}" ]; then
  cargo build --quiet --release --manifest-path "$root/Cargo.toml"
fi
kiln=${KILN:-$root/target/release/kiln}

python3 - "$work/pkg" "$files" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(5000)
words = ["core", "util", "helpers", "index", "zeta", "alpha", "lib", "dist"]
exts = ["js", "mjs", "d.ts", "json", "md", "css"]
os.makedirs(root)
with open(os.path.join(root, "package.json"), "w") as f:
    f.write('{"name":"@bench/large","version":"1.0.0","main":"index.js"}\n')
made = 0
while made < n - 1:
    parts = [rnd.choice(words) for _ in range(rnd.randrange(1, 4))]
    p = os.path.join(root, *parts, "f%d.%s" % (made, rnd.choice(exts)))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        for i in range(rnd.randrange(5, 120)):
            f.write("export const v%d = %d; // %s\n" % (i, rnd.randrange(10**6), rnd.choice(words)))
    made += 1
PY

export npm_config_cache="$work/npm-cache" npm_config_loglevel=error npm_config_update_notifier=false
mkdir "$work/a" "$work/b"
(cd "$work/pkg" && npm pack --ignore-scripts --pack-destination "$work/a" >/dev/null)
# change one line in 10 files
find "$work/pkg" -name '*.js' | sort | head -n 10 | while read -r f; do
  sed -i '3s/.*/export const changed = true;/' "$f"
done
(cd "$work/pkg" && npm pack --ignore-scripts --pack-destination "$work/b" >/dev/null)
a=$(ls "$work"/a/*.tgz); b=$(ls "$work"/b/*.tgz)
entries=$(tar -tzf "$a" | wc -l)

now() { date +%s%N; }
t0=$(now); set +e; "$kiln" diff "$a" "$b" > "$work/kiln.out"; kc=$?
t1=$(now); diffoscope --no-progress "$a" "$b" > "$work/diffoscope.out"; dc=$?; set -e
t2=$(now)
kms=$(( (t1 - t0) / 1000000 )); dms=$(( (t2 - t1) / 1000000 ))
echo "entries: $entries; kiln exit $kc, diffoscope exit $dc"
echo "kiln: $(grep -c 'contents differ' "$work/kiln.out") entries with different contents"
echo "kiln diff:  ${kms} ms"
echo "diffoscope: ${dms} ms"
awk -v a="$dms" -v b="$kms" 'BEGIN {printf "ratio: %.1fx (bar: >= 20x)\n", a / (b > 0 ? b : 1)}'
