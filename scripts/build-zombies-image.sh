#!/usr/bin/env bash
# Builds localhost/zombies:TAG offline with podman from images/zombies/Containerfile (FROM scratch).
#
# Usage: scripts/build-zombies-image.sh [--bin PATH] [--tag TAG]
#   --bin PATH  the static zombies binary (default: $ZOMBIES_STATIC_BIN, else scripts/build-zombies.sh)
#   --tag TAG   image tag (default: the workspace version)
# Prints ZOMBIES_IMAGE=localhost/zombies:TAG on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "build-zombies-image: $*" >&2; exit 1; }
bin=${ZOMBIES_STATIC_BIN:-}
tag=
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) [ $# -ge 2 ] || die "--bin needs a path"; bin=$2; shift 2 ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a value"; tag=$2; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
command -v podman >/dev/null || die "podman is not installed (scripts/setup.sh installs it)"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}
[ -n "$bin" ] || bin=$("$root/scripts/build-zombies.sh")
[ -x "$bin" ] || die "'$bin' is missing or not executable"
! LC_ALL=C ldd "$bin" >/dev/null 2>&1 || die "'$bin' is dynamically linked; FROM scratch needs a static binary"
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
tag=${tag:-$version}
ctx=$(mktemp -d "${TMPDIR:-/tmp}/zombies-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cp "$root/images/zombies/Containerfile" "$ctx/"
install -m 0755 "$bin" "$ctx/zombies"
podman build --quiet --layers=false --network none --build-arg "VERSION=$version" \
  -t "localhost/zombies:$tag" "$ctx" >/dev/null || die "podman build failed"
echo "ZOMBIES_IMAGE=localhost/zombies:$tag"
