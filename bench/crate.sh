#!/usr/bin/env bash
# kiln's crate surface (`kiln build mini-crates`: snapshot, workspace,
# stamping, sandboxed `cargo package`, checks, registration, dist/) against
# plain `cargo package --no-verify --offline` of the same tree (unstamped; the
# packing work is the same), on the
# monorepo fixture, alternated in one run. Every kiln run is a real build
# (a fresh SOURCE_DATE_EPOCH makes a new derivation); every cargo run starts
# from an empty target directory. Prints medians and kiln's overhead
# (issue bar: ≤ 20%).
#
#   bench/crate.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
cargo build --release --quiet
KILN=$PWD/target/release/kiln
W=$PWD/bench/out/crate
rm -rf "$W"; mkdir -p "$W"
cp -r tests/fixtures/monorepo "$W/repo"
git -C "$W/repo" init -q
git -C "$W/repo" add -A
git -C "$W/repo" -c user.name=b -c user.email=b@example.invalid commit -qm bench
cp -r "$W/repo" "$W/plain"
rm -rf "$W/plain/.git"
"$KILN" -C "$W/repo" --store "$W/store" build mini-crates >/dev/null   # warm: tool identities, page cache

now() { date +%s%N; }
k=(); c=(); epoch=1700000000
for _ in $(seq "$RUNS"); do
  epoch=$((epoch + 1))
  t=$(now); SOURCE_DATE_EPOCH=$epoch "$KILN" -C "$W/repo" --store "$W/store" build mini-crates >/dev/null; k+=($(( $(now) - t )))
  rm -rf "$W/plain/target"
  t=$(now); (cd "$W/plain" && SOURCE_DATE_EPOCH=$epoch cargo package --no-verify --offline --allow-dirty -p mini-core -p mini-cli -q >/dev/null 2>&1); c+=($(( $(now) - t )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
km=$(median "${k[@]}"); cm=$(median "${c[@]}")
awk -v k="$km" -v c="$cm" -v r="$RUNS" 'BEGIN {
  printf "crate surface, fixture (2 crates), %d runs: kiln %.0f ms, cargo package %.0f ms, overhead %+.0f%%\n", r, k/1e6, c/1e6, (k/c-1)*100 }'
