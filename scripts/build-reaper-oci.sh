#!/usr/bin/env bash
# Builds reaper-oci and reaper-oci-install as static (musl) release binaries and prints the directory
# holding them. With --image [TAG]: also builds the installer image localhost/reaper-oci:TAG (default:
# the workspace version) from images/reaper-oci/Containerfile with the static reaper beside them, and
# prints REAPER_OCI_IMAGE=<reference> on a second line.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl \
  || { echo "build-reaper-oci: the x86_64-unknown-linux-musl target is missing (rustup target add x86_64-unknown-linux-musl)" >&2; exit 1; }
cargo build --release --locked -p reaper-oci --target x86_64-unknown-linux-musl >&2
dir="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-musl/release"
echo "$dir"
if [ "${1:-}" = --image ]; then
  tag=${2:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)}
  reaper=${REAPER_BIN:-$(scripts/build-reaper.sh)}
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  install -m 0755 "$dir/reaper-oci" "$dir/reaper-oci-install" "$reaper" "$ctx/"
  [ "$(basename "$reaper")" = reaper ] || mv "$ctx/$(basename "$reaper")" "$ctx/reaper"
  cp images/reaper-oci/Containerfile "$ctx/"
  podman build -q --network none -t "localhost/reaper-oci:$tag" "$ctx" >&2
  echo "REAPER_OCI_IMAGE=localhost/reaper-oci:$tag"
fi
