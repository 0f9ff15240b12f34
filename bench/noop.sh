#!/usr/bin/env bash
# No-op `kiln build` (everything cached) against `git status --porcelain` on
# the same generated git repository of 20,000 files, alternated in one run.
# Prints both medians and the ratio (issue bar: kiln ≤ 2× git status).
#
#   bench/noop.sh [FILES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-20000}
RUNS=${2:-15}
cargo build --release --quiet
KILN=$PWD/target/release/kiln
REPO=$PWD/bench/out/noop-$FILES
if [ ! -d "$REPO/.git" ]; then
  rm -rf "$REPO"; mkdir -p "$REPO/recipes"
  python3 - "$REPO" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "src", f"m{i % 200:03d}", f"s{(i // 200) % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.txt"), "w") as f:
        f.write(f"file {i}\n" * (1 + i % 40))
PY
  printf 'surface = "tarball"\nsource = "src"\n' > "$REPO/recipes/all.toml"
  printf '[version]\nsource = "file:VERSION"\n' > "$REPO/recipes/release.toml"
  echo 1.0.0 > "$REPO/VERSION"
  printf '/store/\n/dist/\n' > "$REPO/.gitignore"
  git -C "$REPO" init -q
  git -C "$REPO" add -A
  git -C "$REPO" -c user.name=b -c user.email=b@example.invalid commit -qm bench
fi
"$KILN" -C "$REPO" build >/dev/null            # the one real build
"$KILN" -C "$REPO" build | tail -1             # must say: 0 built, 1 cached
git -C "$REPO" status --porcelain >/dev/null   # warm git's index stat cache

now() { date +%s%N; }
k=(); g=()
for _ in $(seq "$RUNS"); do
  t=$(now); "$KILN" -C "$REPO" build >/dev/null; k+=($(( $(now) - t )))
  t=$(now); git -C "$REPO" status --porcelain >/dev/null; g+=($(( $(now) - t )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
km=$(median "${k[@]}"); gm=$(median "${g[@]}")
awk -v k="$km" -v g="$gm" -v n="$FILES" -v r="$RUNS" 'BEGIN {
  printf "no-op build, %d files, %d runs: kiln %.1f ms, git status %.1f ms, ratio %.2fx\n", n, r, k/1e6, g/1e6, k/g }'
