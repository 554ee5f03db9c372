#!/usr/bin/env bash
# Builds a release into dist/, offline, in one command:
#
#   reaper-VERSION-ARCH, zombies-VERSION-ARCH   static (musl), stripped, for each ARCH of $ARCHES
#   reaper_VERSION_DEBARCH.deb, zombies_...deb  Debian packages per architecture (lintian-checked)
#   reaper-image-VERSION.tar, pause-image-..., zombies-image-...
#                                               multi-arch OCI archives, which
#                                               `podman load` and `docker load` both read
#   SHA256SUMS                                  over every file above (`sha256sum -c SHA256SUMS`)
#   SIZES                                       bytes of every binary, per architecture
#
# ARCH names are those of BuildKit's TARGETARCH (amd64, arm64, 386), so a Dockerfile can
# `COPY reaper-VERSION-${TARGETARCH} /reaper`.
#
# Usage: scripts/release.sh [--out DIR]      (default: dist/, emptied first)
# Environment:
#   ARCHES       architectures to build (default "amd64 arm64 386"; README.md lists the others and why not)
#   SOURCE_URL   the project's home for the OCI source label and the Debian Homepage (default: the
#                GitHub repository under Actions, else the git remote `origin`)
#   MAINTAINER   the Debian Maintainer field (default: git's user.name <user.email>)
# Needs: rustup with the musl targets, podman, dpkg-deb, lintian, python3 (scripts/setup.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
die() { echo "release: $*" >&2; exit 1; }
say() { printf 'release: %s\n' "$*" >&2; }

out=$root/dist
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
case "$out" in /*) ;; *) out=$PWD/$out ;; esac

for cmd in cargo rustup podman dpkg-deb lintian python3 sha256sum gzip; do
  command -v "$cmd" >/dev/null || die "$cmd is not installed (scripts/setup.sh installs what a release needs)"
done
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || die "cannot read the workspace version from Cargo.toml"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null) || die "not a git checkout: the release names its commit"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then revision=$commit-dirty; else revision=$commit; fi
export REAPER_REVISION=$revision
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
if [ -z "${SOURCE_URL:-}" ]; then
  if [ -n "${GITHUB_REPOSITORY:-}" ]; then SOURCE_URL=${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY
  else SOURCE_URL=$(git remote get-url origin 2>/dev/null) || die "set SOURCE_URL (no git remote 'origin' to take it from)"
  fi
fi
case "$SOURCE_URL" in https://*|http://*) ;; *) die "SOURCE_URL '$SOURCE_URL' is not an http(s) URL: set SOURCE_URL to the project's home page" ;; esac
export SOURCE_URL
export MAINTAINER=${MAINTAINER:-"$(git config user.name) <$(git config user.email)>"}
arches=${ARCHES:-amd64 arm64 386}
case " $arches " in *" amd64 "*) ;; *) die "ARCHES must contain amd64" ;; esac
case " $arches " in *" arm64 "*) ;; *) die "ARCHES must contain arm64" ;; esac

triple() {
  case "$1" in
    amd64) echo x86_64-unknown-linux-musl ;;
    arm64) echo aarch64-unknown-linux-musl ;;
    386) echo i686-unknown-linux-musl ;;
    *) die "unknown architecture '$1' (amd64, arm64, 386; README.md lists the others and why not)" ;;
  esac
}
debarch() { case "$1" in 386) echo i386 ;; *) echo "$1" ;; esac; }
ocimatch() { case "$1" in amd64) echo 'x86-64' ;; arm64) echo 'ARM aarch64' ;; 386) echo 'Intel 80386' ;; esac; }

started=$(date +%s)
say "version $version, revision $revision, architectures: $arches -> $out"
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/reaper-release.XXXXXX")
cleanup_cmds=()
cleanup() {
  for c in "${cleanup_cmds[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Static binaries.
installed=$(rustup target list --installed)
for a in $arches; do
  t=$(triple "$a")
  grep -qx "$t" <<<"$installed" || rustup target add "$t" >&2 || die "rustup cannot add $t"
  say "building reaper and zombies for $a ($t)"
  nice cargo build --release --locked -p reaper -p zombies --target "$t" >&2
  for b in reaper zombies; do
    f=${CARGO_TARGET_DIR:-$root/target}/$t/release/$b
    desc=$(file -b "$f")
    case "$desc" in *"statically linked"*) ;; *) die "$f is not statically linked: $desc" ;; esac
    case "$desc" in *"$(ocimatch "$a")"*) ;; *) die "$f is not a $a binary: $desc" ;; esac
    case "$desc" in *", stripped"*) ;; *) die "$f is not stripped: $desc" ;; esac
    install -m 0755 "$f" "$out/$b-$version-$a"
  done
done

# 2. zombies' man pages and completions, from the live command-line definition (host build).
say "generating zombies' man pages and shell completions"
cargo run -q --locked -p zombies --features gen-assets -- __generate-assets "$work/assets" >&2

# 3. Debian packages (one per architecture), each checked by lintian: an error fails the release.
for a in $arches; do
  for p in reaper zombies; do
    deb=$(scripts/release/deb.sh "$p" "$(debarch "$a")" "$version" "$out/$p-$version-$a" "$work/assets" "$out")
    say "lintian $(basename "$deb")"
    lintian --fail-on error,warning "$deb" >&2 || die "lintian rejects $deb"
  done
done

# 4. Multi-arch OCI image archives (every architecture), FROM scratch: no emulation, no registry.
ctx=$work/images
mkdir -p "$ctx"
for a in $arches; do cp "$out/reaper-$version-$a" "$out/zombies-$version-$a" "$ctx/"; done
image() { # image NAME TITLE DESCRIPTION
  local name=$1 list="localhost/reaper-release-$$-$1:$version"
  podman manifest create "$list" >/dev/null
  cleanup_cmds+=("podman manifest rm $list")
  for a in $arches; do
    local tag="localhost/reaper-release-$$-$name-$a:$version"
    podman build -q --layers=false --network none --platform "linux/$a" --build-arg "VERSION=$version" \
      --label "org.opencontainers.image.title=$2" \
      --label "org.opencontainers.image.description=$3" \
      --label "org.opencontainers.image.version=$version" \
      --label "org.opencontainers.image.revision=$revision" \
      --label "org.opencontainers.image.source=$SOURCE_URL" \
      --label "org.opencontainers.image.licenses=MIT" \
      --timestamp "$SOURCE_DATE_EPOCH" \
      -t "$tag" -f "packaging/images/$name.Containerfile" "$ctx" >/dev/null \
      || die "podman build of the $name image for $a failed"
    cleanup_cmds+=("podman rmi $tag")
    podman manifest add "$list" "containers-storage:$tag" >/dev/null || die "podman manifest add $tag failed"
  done
  local archive=$out/$name-image-$version.tar
  podman manifest push -q --all --format oci "$list" "oci-archive:$archive:reaper/$name:$version" >&2 \
    || die "podman manifest push of $list failed"
  python3 scripts/release/docker-manifest.py "$archive" "reaper/$name:$version" || die "cannot add docker's manifest.json to $archive"
}
say "building the OCI images"
image reaper reaper "A tiny static PID 1 for containers: runs one program, forwards signals, reaps orphans"
image pause reaper-pause "reaper as the pod infrastructure (pause) process"
image zombies zombies "Zombie-process node agent: Prometheus metrics per namespace, pod and container"

# 5. Sizes and checksums.
{
  printf '%-8s %-8s %10s %9s\n' arch binary bytes KiB
  for a in $arches; do
    for b in reaper zombies; do
      s=$(stat -c %s "$out/$b-$version-$a")
      printf '%-8s %-8s %10d %9s\n' "$a" "$b" "$s" "$(awk -v s="$s" 'BEGIN { printf "%.1f", s / 1024 }')"
    done
  done
} > "$out/SIZES"
# reaper's size goal is 64 KiB on every architecture; a release over it says so (SIZES and stderr).
# The hard ceiling (72 KiB) stops a release that grew by accident.
for a in $arches; do
  s=$(stat -c %s "$out/reaper-$version-$a")
  [ "$s" -le 73728 ] || die "reaper for $a is $s bytes, over the 72 KiB ceiling (goal: 64 KiB)"
  if [ "$s" -gt 65536 ]; then
    say "WARNING: reaper for $a is $s bytes, over its 64 KiB goal"
    echo "reaper for $a: $s bytes, over the 64 KiB goal" >> "$out/SIZES"
  fi
done
(cd "$out" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
say "done in $(( $(date +%s) - started )) s:"
(cd "$out" && ls -l | sed 1d) >&2
cat "$out/SIZES" >&2
echo "$out"
