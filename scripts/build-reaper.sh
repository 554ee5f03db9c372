#!/usr/bin/env bash
# Builds the static reaper binary and prints its path. Prefers musl (no libc at run time); when the musl
# target cannot be had, builds against static glibc and says so on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  cargo build --release --locked -p reaper --target x86_64-unknown-linux-musl >&2
  echo "$PWD/target/x86_64-unknown-linux-musl/release/reaper"
else
  echo "build-reaper: x86_64-unknown-linux-musl not installed; building with static glibc instead" >&2
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -p reaper \
    --target x86_64-unknown-linux-gnu >&2
  echo "$PWD/target/x86_64-unknown-linux-gnu/release/reaper"
fi
