#!/usr/bin/env bash
# Builds reaper's container images offline with podman (FROM scratch; no registry, no RUN step):
#
#   localhost/reaper:TAG        images/reaper/Containerfile   reaper as /reaper, ENTRYPOINT ["/reaper", "--"]
#   localhost/reaper-pause:TAG  images/pause/Containerfile    reaper as /pause (pause persona), uid 65535
#   localhost/zombie-init:WTAG  e2e/incident1/image/          the incident-1 workload (static busybox)
#
# Usage: scripts/build-images.sh [--reaper PATH] [--tag TAG]
#   --reaper PATH  the static reaper binary (default: $REAPER_BIN, else the output of scripts/build-reaper.sh)
#   --tag TAG      tag of all three images (default: the workspace version for reaper and reaper-pause,
#                  `latest` for zombie-init, as e2e/incident1/pod.yaml names it)
#
# Prints the image references on stdout as shell assignments (REAPER_IMAGE=..., PAUSE_IMAGE=...,
# ZOMBIE_INIT_IMAGE=...). Each build runs in a fresh temporary build context, removed on exit.
# podman needs the project's containers.conf on this machine kind: CONTAINERS_CONF defaults to
# deploy/podman/containers.conf.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "build-images: $*" >&2; exit 1; }

reaper=${REAPER_BIN:-}
tag=
while [ $# -gt 0 ]; do
  case "$1" in
    --reaper) [ $# -ge 2 ] || die "--reaper needs a path"; reaper=$2; shift 2 ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a value"; tag=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

command -v podman >/dev/null || die "podman is not installed (scripts/setup.sh installs it)"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}
[ -n "$reaper" ] || reaper=$("$root/scripts/build-reaper.sh")
[ -f "$reaper" ] && [ -x "$reaper" ] || die "reaper binary '$reaper' is missing or not executable"
# A FROM-scratch image has no dynamic loader: the binaries must be static.
static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
static "$reaper" || die "'$reaper' is dynamically linked; a FROM scratch image needs a static binary"
busybox=$(command -v busybox) || die "busybox is not installed (Debian package busybox-static)"
static "$busybox" || die "'$busybox' is dynamically linked; install Debian's busybox-static"

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
[ -n "$version" ] || die "cannot read the workspace version from Cargo.toml"
reaper_tag=${tag:-$version}
workload_tag=${tag:-latest}

ctx=$(mktemp -d "${TMPDIR:-/tmp}/reaper-images.XXXXXX")
trap 'rm -rf "$ctx"' EXIT

build() { # build NAME:TAG CONTEXT_DIR
  podman build --quiet --layers=false --network none --build-arg "VERSION=$version" -t "$1" "$2" >/dev/null \
    || die "podman build of $1 failed"
}

mkdir "$ctx/reaper" "$ctx/pause" "$ctx/zombie-init"
cp "$root/images/reaper/Containerfile" "$ctx/reaper/"
install -m 0755 "$reaper" "$ctx/reaper/reaper"
build "localhost/reaper:$reaper_tag" "$ctx/reaper"

cp "$root/images/pause/Containerfile" "$ctx/pause/"
install -m 0755 "$reaper" "$ctx/pause/pause"
build "localhost/reaper-pause:$reaper_tag" "$ctx/pause"

w="$ctx/zombie-init"
cp "$root/e2e/incident1/image/Containerfile" "$w/"
install -m 0755 "$root/e2e/incident1/image/zombie-init" "$root/e2e/incident1/image/zombie-report" "$w/"
mkdir "$w/bin"
install -m 0755 "$busybox" "$w/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$w/bin/$applet"
done
build "localhost/zombie-init:$workload_tag" "$w"

echo "REAPER_IMAGE=localhost/reaper:$reaper_tag"
echo "PAUSE_IMAGE=localhost/reaper-pause:$reaper_tag"
echo "ZOMBIE_INIT_IMAGE=localhost/zombie-init:$workload_tag"
