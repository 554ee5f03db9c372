#!/usr/bin/env bash
# Builds the static zombies binary (musl, for the FROM scratch image) and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl \
  || { echo "build-zombies: the x86_64-unknown-linux-musl target is missing (rustup target add x86_64-unknown-linux-musl)" >&2; exit 1; }
cargo build --release --locked -p zombies --target x86_64-unknown-linux-musl >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-musl/release/zombies"
