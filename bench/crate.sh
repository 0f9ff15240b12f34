#!/usr/bin/env bash
# kiln's crate surface (`kiln build mini-crates`: snapshot, workspace,
# stamping, sandboxed `cargo package`, checks, registration, dist/) against
# plain `cargo package --no-verify --offline` of the same tree (unstamped; the
# packing work is the same), on the
# monorepo fixture, alternated in one run. Every kiln run is a real build
# (a fresh SOURCE_DATE_EPOCH makes a new derivation); every cargo run starts
# from an empty target directory. Prints medians and kiln's overhead
# (issue bar: ≤ 20%) — for the whole `kiln build` and for the surface alone
# (examples/crate_surface: sandboxed cargo package, checks, collection).
#
#   bench/crate.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
cargo build --release --quiet --bin kiln --example crate_surface
KILN=$PWD/target/release/kiln
SURFACE=$PWD/target/release/examples/crate_surface
W=$PWD/bench/out/crate
rm -rf "$W"; mkdir -p "$W"
cp -r tests/fixtures/monorepo "$W/repo"
# Both sides pack without building: cargo with --no-verify, kiln with verify = false.
printf 'verify = false\n' >> "$W/repo/recipes/mini-crates.toml"
git -C "$W/repo" init -q
git -C "$W/repo" add -A
git -C "$W/repo" -c user.name=b -c user.email=b@example.invalid commit -qm bench
cp -r "$W/repo" "$W/plain"
rm -rf "$W/plain/.git"
mkdir -p "$W/ws"; cp -r "$W/plain" "$W/ws/src"     # kiln's workspace layout
"$KILN" -C "$W/repo" --store "$W/store" build mini-crates >/dev/null   # warm: tool identities, page cache

now() { date +%s%N; }
k=(); c=(); s=(); epoch=1700000000
for _ in $(seq "$RUNS"); do
  epoch=$((epoch + 1))
  t=$(now); SOURCE_DATE_EPOCH=$epoch "$KILN" -C "$W/repo" --store "$W/store" build mini-crates >/dev/null; k+=($(( $(now) - t )))
  rm -rf "$W/plain/target"
  t=$(now); (cd "$W/plain" && SOURCE_DATE_EPOCH=$epoch cargo package --no-verify --offline --allow-dirty -p mini-core -p mini-cli -q >/dev/null 2>&1); c+=($(( $(now) - t )))
  rm -rf "$W/ws/src/target" "$W/staging"
  t=$(now); "$SURFACE" "$W/ws" "$W/staging" "$W/store/.kiln/tools" mini-core mini-cli >/dev/null; s+=($(( $(now) - t )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
km=$(median "${k[@]}"); cm=$(median "${c[@]}"); sm=$(median "${s[@]}")
awk -v k="$km" -v c="$cm" -v s="$sm" -v r="$RUNS" 'BEGIN {
  printf "fixture (2 crates), %d runs: cargo package %.0f ms; crate surface alone %.0f ms (%+.0f%%); whole kiln build %.0f ms (%+.0f%%)\n", r, c/1e6, s/1e6, (s/c-1)*100, k/1e6, (k/c-1)*100 }'
