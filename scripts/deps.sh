#!/usr/bin/env bash
# Install what `kiln build` itself needs on a fresh Debian/Ubuntu machine when
# it is missing: git (sources are read from git objects) and bubblewrap
# (command and crate recipes run in its sandbox). A Rust toolchain (cargo) is
# assumed, as for any Rust project.
set -euo pipefail
need=()
command -v git   >/dev/null 2>&1 || need+=(git)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps.sh: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
