#!/usr/bin/env bash
# kiln's oci surface on one ~500 MB layer of generated files, against
#   - the shell pipeline `tar --sort=name --mtime=@0 | gzip -n | sha256sum`
#     (one core: the floor for a single-threaded gzip'd layer), and
#   - `podman build --timestamp 0` of the equivalent `FROM scratch` + `COPY`
#     Containerfile, plus `podman save` (when podman is installed),
# alternated in one run. Every kiln run is a real build (a fresh
# SOURCE_DATE_EPOCH makes a new derivation) into the same store. Prints
# medians and the ratios the issue sets bars on: podman / kiln (≥ 2×) and
# kiln / (pipeline / cores) (≤ 1.2×).
#
#   bench/oci.sh [RUNS]
#   KILN_OCI='compression-level = 1' bench/oci.sh [RUNS]   # other [oci] settings
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
cargo build --release --quiet --bin kiln
KILN=$PWD/target/release/kiln
# Outside any git work tree: kiln snapshots the directory itself.
W=${TMPDIR:-/tmp}/kiln-bench-oci
CORES=$(nproc)
mkdir -p "$W"
# Every run is a new ~530 MB output: start each invocation with an empty
# store (and no podman images) rather than let them pile up in $TMPDIR.
# (Store directories are read-only: make them writable to remove them.)
[ -d "$W/store" ] && chmod -R u+w "$W/store"
rm -rf "$W/store" "$W/podman" "$W/podman.tar"
P=$W/proj
if [ ! -f "$P/.generated" ]; then
  rm -rf "$P"; mkdir -p "$P/recipes" "$P/payload"
  # 2,000 files of 256 KiB: text-like lines with varying numbers, so they
  # compress about 2:1 with gzip -6 (random words and numbers; deterministic).
  python3 - "$P/payload" <<'PY'
import os, sys, random
root = sys.argv[1]
rng = random.Random(42)
words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))) for _ in range(4000)]
for d in range(20):
    os.makedirs(f"{root}/d{d:02}", exist_ok=True)
    for f in range(100):
        out = []
        size = 0
        while size < 256 * 1024:
            line = " ".join(rng.choice(words) for _ in range(8)) + f" {rng.getrandbits(32)}\n"
            out.append(line)
            size += len(line)
        with open(f"{root}/d{d:02}/f{f:03}.txt", "w") as fh:
            fh.write("".join(out)[: 256 * 1024])
PY
  echo 1.0.0 > "$P/VERSION"
  cat > "$P/recipes/release.toml" <<'T'
[version]
source = "file:VERSION"
T
  printf 'FROM scratch\nCOPY payload /data\n' > "$P/Containerfile"
  touch "$P/.generated"
fi
# The recipe, with the [oci] settings of KILN_OCI (e.g. `compression-level = 1`
# or `compression = "zstd"`; default: none, gzip at level 6).
printf 'surface = "oci"\ninclude = ["payload/**"]\n[oci]\nrepository = "bench/big"\n%s\n[[oci.layers]]\nname = "payload"\nmap = { "payload" = "/data" }\n' \
  "${KILN_OCI:-}" > "$P/recipes/big.toml"
echo "[oci] settings: ${KILN_OCI:-(defaults)}"
du -sh "$P/payload"
# Every kiln run is a new derivation: SOURCE_DATE_EPOCH from a counter kept
# beside the store (never a cache hit, also across runs of this script).
epoch=$(cat "$W/epoch" 2>/dev/null || echo 1800000000)
next_epoch() { epoch=$((epoch + 1)); echo "$epoch" > "$W/epoch"; }
next_epoch; SOURCE_DATE_EPOCH=$epoch "$KILN" -C "$P" --store "$W/store" build big >/dev/null   # warm the page cache
if [ -x /usr/bin/time ]; then   # peak memory of a build (the layer is streamed)
  next_epoch; SOURCE_DATE_EPOCH=$epoch /usr/bin/time -f "kiln build peak RSS: %M KiB" "$KILN" -C "$P" --store "$W/store" build big >/dev/null
fi

now() { date +%s%N; }
PODMAN=()
if command -v podman >/dev/null 2>&1; then
  PODMAN=(podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver vfs)
fi
# CPU seconds (user + sys, the process and its children) of each run too:
# on a shared machine wall time also measures the wait for a core.
cpu() { /usr/bin/time -f "%U %S" -o "$W/cpu" "$@" >/dev/null && awk '{printf "%.1f", $1 + $2}' "$W/cpu"; }
k=(); g=(); p=(); kc=(); gc=(); pc=()
for _ in $(seq "$RUNS"); do
  next_epoch
  t=$(now); c=$(SOURCE_DATE_EPOCH=$epoch cpu "$KILN" -C "$P" --store "$W/store" build big 2>/dev/null); k+=($(( $(now) - t ))); kc+=("$c")
  t=$(now); c=$(cpu sh -c "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C '$P' payload | gzip -n | sha256sum >/dev/null"); g+=($(( $(now) - t ))); gc+=("$c")
  if [ ${#PODMAN[@]} -gt 0 ]; then
    "${PODMAN[@]}" rmi -af >/dev/null 2>&1 || true
    rm -f "$W/podman.tar"
    t=$(now)
    if c=$(cpu sh -c 'P=$1 W=$2; shift 2
        "$@" build -q --timestamp 0 -t bench/big:1 -f "$P/Containerfile" "$P" >/dev/null 2>"$W/podman.err" &&
        "$@" save -o "$W/podman.tar" bench/big:1 >/dev/null 2>>"$W/podman.err"' sh "$P" "$W" "${PODMAN[@]}"); then
      p+=($(( $(now) - t ))); pc+=("$c")
    else
      echo "podman build failed here (skipped): $(tail -1 "$W/podman.err")"; PODMAN=()
    fi
  fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
km=$(median "${k[@]}"); gm=$(median "${g[@]}")
pm=0; [ ${#p[@]} -gt 0 ] && pm=$(median "${p[@]}")
echo "kiln runs (ms): $(printf '%s ' "${k[@]}" | awk '{for(i=1;i<=NF;i++) printf "%.0f ", $i/1e6}')"
echo "pipeline runs (ms): $(printf '%s ' "${g[@]}" | awk '{for(i=1;i<=NF;i++) printf "%.0f ", $i/1e6}')"
[ ${#p[@]} -gt 0 ] && echo "podman runs (ms): $(printf '%s ' "${p[@]}" | awk '{for(i=1;i<=NF;i++) printf "%.0f ", $i/1e6}')"
echo "CPU seconds (user+sys) — kiln: ${kc[*]}; pipeline: ${gc[*]}; podman: ${pc[*]:-}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v k="$km" -v g="$gm" -v p="$pm" -v c="$CORES" -v r="$RUNS" 'BEGIN {
  printf "%d runs, %d cores: kiln build %.2f s; tar|gzip -n|sha256sum %.2f s; kiln / (pipeline / cores) = %.2f", r, c, k/1e9, g/1e9, k/(g/c)
  if (p > 0) printf "; podman build+save %.2f s; podman / kiln = %.2f×", p/1e9, p/k
  printf "\n" }'
