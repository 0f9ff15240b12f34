#!/usr/bin/env bash
# Benchmark `kiln hash` against `nix-hash --type sha256 --base32` on one large
# tree (~50k files, ~800 MB), alternating the two tools in one run and
# reporting medians and their ratio.
#
# usage: bench/hash.sh [RUNS]        (default 5 runs of each tool)
#
# The tree is generated once, deterministically, under bench/out/ (git-ignored)
# and reused. Both tools read it from the page cache after a warm-up pass, so
# this measures CPU cost (walking, reading, hashing), not disk speed.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-5}
TREE=bench/out/hash-tree
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required" >&2; exit 2; }
command -v nix-hash >/dev/null || { echo "nix-hash is not installed (apt-get install nix-bin)" >&2; exit 2; }

if [ ! -f "$TREE.done" ]; then
  echo "generating $TREE (once) ..." >&2
  rm -rf "$TREE"
  python3 - "$TREE" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20261123)
n_small, n_large = 49_900, 100
files = 0
total = 0
for d in range(500):
    sub = os.path.join(root, f"pkg{d:03d}", f"mod{d % 7}")
    os.makedirs(sub, exist_ok=True)
    for f in range(n_small // 500):
        size = rng.randint(0, 24 * 1024)
        name = os.path.join(sub, f"file{f:03d}.{rng.choice(['rs', 'py', 'txt', 'json', 'bin'])}")
        with open(name, "wb") as fh:
            fh.write(rng.randbytes(size))
        if f % 10 == 0:
            os.chmod(name, 0o755)
        files += 1
        total += size
big = os.path.join(root, "assets")
os.makedirs(big, exist_ok=True)
for i in range(n_large):
    with open(os.path.join(big, f"blob{i:03d}.bin"), "wb") as fh:
        fh.write(rng.randbytes(2 * 1024 * 1024))
    files += 1
    total += 2 * 1024 * 1024
print(f"{files} files, {total / 1e6:.0f} MB", file=sys.stderr)
PY
  touch "$TREE.done"
fi

cargo build --release --quiet
KILN=${KILN_BIN:-target/release/kiln}

echo "warming the page cache ..." >&2
expected=$(nix-hash --type sha256 --base32 "$TREE")
got=$("$KILN" hash "$TREE")
if [ "$expected" != "$got" ]; then
  echo "MISMATCH: nix-hash $expected, kiln $got" >&2
  exit 1
fi

# Wall-clock and CPU (user + system) seconds of one run, via GNU time.
measure() {
  local f
  f=$(mktemp)
  /usr/bin/time -f '%e %U %S' -o "$f" "$@" >/dev/null
  awk '{printf "%s %.3f\n", $1, $2 + $3}' "$f"
  rm -f "$f"
}
kiln_t=(); nix_t=(); kiln_c=(); nix_c=()
for i in $(seq 1 "$RUNS"); do
  read -r k kc < <(measure "$KILN" hash "$TREE")
  read -r n nc < <(measure nix-hash --type sha256 --base32 "$TREE")
  kiln_t+=("$k"); nix_t+=("$n"); kiln_c+=("$kc"); nix_c+=("$nc")
  printf 'run %d: kiln %.2fs (cpu %.2fs)  nix-hash %.2fs (cpu %.2fs)  load %s\n' \
    "$i" "$k" "$kc" "$n" "$nc" "$(cut -d' ' -f1 /proc/loadavg)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
km=$(median "${kiln_t[@]}"); nm=$(median "${nix_t[@]}")
kc=$(median "${kiln_c[@]}"); nc=$(median "${nix_c[@]}")
files=$(find "$TREE" -type f | wc -l)
bytes=$(du -sb --apparent-size "$TREE" | cut -f1)
printf 'tree: %d files, %d MB; %d CPUs; load average now: %s\n' \
  "$files" "$((bytes / 1000000))" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'median wall: kiln %.3fs, nix-hash %.3fs, ratio (nix-hash / kiln) %.2fx\n' \
  "$km" "$nm" "$(echo "$nm / $km" | bc -l)"
printf 'median cpu:  kiln %.3fs, nix-hash %.3fs\n' "$kc" "$nc"
