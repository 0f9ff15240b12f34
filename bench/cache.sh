#!/usr/bin/env bash
# A fresh store pulling the whole monorepo fixture from an HTTP binary cache
# (nginx on 127.0.0.1, filled once by `kiln build --cache URL --push`)
# against rebuilding it from scratch in a fresh store, alternated in one run.
# Both end with the same dist/ (checked). Prints medians and the ratio
# (issue bar: pull ≥ 5× faster than rebuild).
#
#   bench/cache.sh [RUNS]
#   KILN_BIN=target/debug/kiln bench/cache.sh   # another binary (skips the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench/cache.sh: nginx is required (apt-get install nginx)" >&2; exit 2; }
[ -n "${KILN_BIN:-}" ] || cargo build --release --quiet --bin kiln
KILN=${KILN_BIN:-$PWD/target/release/kiln}
W=${BENCH_OUT:-$PWD/bench/out/cache}
rm -rf "$W"; mkdir -p "$W/www" "$W/nginx"
cp -r tests/fixtures/monorepo "$W/repo"
rm -rf "$W/repo/store" "$W/repo/dist"
git -C "$W/repo" init -q
git -C "$W/repo" add -A
git -C "$W/repo" -c user.name=b -c user.email=b@example.invalid commit -qm bench

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$PORT;
    root $W/www;
    location / { dav_methods PUT; create_full_put_path on; dav_access user:rw group:r all:r; }
  }
}
EOF
"$NGINX" -p "$W/nginx" -e "$W/nginx/error.log" -c "$W/nginx/nginx.conf" &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null || true' EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done

"$KILN" cache keygen bench-1 --out "$W/key" >/dev/null
PUB=$(cat "$W/key.public")
# Machine A: build everything and push it (also warms the page cache and the
# cargo registry the command recipe reads).
"$KILN" -C "$W/repo" --store "$W/store-a" build --out "$W/dist-a" \
  --cache "$URL" --push --signing-key "$W/key.secret" >/dev/null 2>&1
RECIPES=$(ls "$W/repo/recipes" | grep -vc '^release.toml$')

now() { date +%s%N; }
# CPU seconds (user + sys, with children) of the last timed command: on a
# shared machine wall time also measures the wait for a core.
cpu_of() { awk '{printf "%.2f", $1 + $2}' "$W/cpu"; }
pull=(); build=(); pullc=(); buildc=()
for i in $(seq "$RUNS"); do
  rm -rf "$W/s" "$W/d"
  t=$(now)
  out=$(/usr/bin/time -f "%U %S" -o "$W/cpu" "$KILN" -C "$W/repo" --store "$W/s" build --json --out "$W/d" --cache "$URL" --trusted-key "$PUB" 2>/dev/null)
  pull+=($(( $(now) - t ))); pullc+=("$(cpu_of)")
  n=$(printf '%s' "$out" | grep -c '"status": "substituted"' || true)
  [ "$n" -eq "$RECIPES" ] || { echo "run $i: $n of $RECIPES substituted" >&2; exit 1; }
  cmp -s "$W/d/SHA256SUMS" "$W/dist-a/SHA256SUMS" || { echo "run $i: dist differs" >&2; exit 1; }
  rm -rf "$W/s" "$W/d"
  t=$(now)
  /usr/bin/time -f "%U %S" -o "$W/cpu" "$KILN" -C "$W/repo" --store "$W/s" build --out "$W/d" >/dev/null 2>&1
  build+=($(( $(now) - t ))); buildc+=("$(cpu_of)")
  cmp -s "$W/d/SHA256SUMS" "$W/dist-a/SHA256SUMS" || { echo "run $i: rebuilt dist differs" >&2; exit 1; }
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pm=$(median "${pull[@]}"); bm=$(median "${build[@]}")
echo "pull runs (ms): $(printf '%s ' "${pull[@]}" | awk '{for(i=1;i<=NF;i++) printf "%.0f ", $i/1e6}')"
echo "rebuild runs (ms): $(printf '%s ' "${build[@]}" | awk '{for(i=1;i<=NF;i++) printf "%.0f ", $i/1e6}')"
echo "CPU seconds (user+sys) — pull: ${pullc[*]}; rebuild: ${buildc[*]}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v p="$pm" -v b="$bm" -v r="$RUNS" -v n="$RECIPES" 'BEGIN {
  printf "monorepo fixture (%d recipes), %d runs: fresh store pulling from nginx %.0f ms; rebuilding %.0f ms; ratio %.1fx\n", n, r, p/1e6, b/1e6, b/p }'
