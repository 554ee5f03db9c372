#!/usr/bin/env bash
# Builds one Debian package from a staged tree with dpkg-deb (called by scripts/release.sh).
#
# Usage: scripts/release/deb.sh PACKAGE DEBARCH VERSION BINARY ASSETS_DIR OUT_DIR
#   PACKAGE     reaper or zombies
#   DEBARCH     Debian architecture (amd64, arm64, i386)
#   BINARY      the static, stripped binary for that architecture
#   ASSETS_DIR  the generated zombies man pages and completions (zombies __generate-assets)
# Environment: SOURCE_URL (the project's home, for the copyright file), MAINTAINER,
# SOURCE_DATE_EPOCH (timestamps, for reproducible packages). Prints the .deb path.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "release/deb: $*" >&2; exit 1; }
[ $# -eq 6 ] || die "usage: deb.sh PACKAGE DEBARCH VERSION BINARY ASSETS_DIR OUT_DIR"
pkg=$1 arch=$2 version=$3 bin=$4 assets=$5 out=$6
[ -x "$bin" ] || die "binary '$bin' is missing or not executable"
: "${SOURCE_URL:?SOURCE_URL must be set (scripts/release.sh sets it)}"
: "${MAINTAINER:?MAINTAINER must be set (scripts/release.sh sets it)}"
: "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set (scripts/release.sh sets it)}"

stage=$(mktemp -d "${TMPDIR:-/tmp}/reaper-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
t=$stage/tree
doc=$t/usr/share/doc/$pkg
install -d "$t/DEBIAN" "$t/usr/bin" "$doc" "$t/usr/share/man/man1"
install -m 0755 "$bin" "$t/usr/bin/$pkg"
sed "s|@SOURCE@|$SOURCE_URL|" "$root/packaging/debian/copyright" > "$doc/copyright"
chmod 0644 "$doc/copyright"
# A native package's changelog: one entry for this version.
{
  printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "$version"
  printf '  * Release %s, built by scripts/release.sh.\n\n' "$version"
  printf ' -- %s  %s\n' "$MAINTAINER" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

manpage() { # manpage SRC NAME
  sed "s/@VERSION@/$version/" "$1" | gzip -9n > "$t/usr/share/man/man1/$2.gz"
  chmod 0644 "$t/usr/share/man/man1/$2.gz"
}

case "$pkg" in
  reaper)
    manpage "$root/packaging/man/reaper.1" reaper.1
    # The personas, by name, only under /usr/lib/reaper/: /usr/bin/tini and friends belong to
    # other Debian packages. Point dockerd's or podman's --init-path here.
    install -d "$t/usr/lib/reaper"
    for p in tini tini-static docker-init dumb-init catatonit pause; do
      ln -s ../../bin/reaper "$t/usr/lib/reaper/$p"
    done
    section=admin
    short="tiny static PID 1 for containers that reaps zombies"
    long=" reaper runs one program as process 1 of a container or PID namespace,
 forwards signals to it, reaps every orphan so none stays a zombie, drains
 the remaining processes when the program exits, and exits with its status.
 .
 Invoked under the name tini, docker-init, dumb-init, catatonit or pause
 (links in /usr/lib/reaper/), it takes that program's options and messages,
 for example as dockerd's or podman's --init-path."
    ;;
  zombies)
    for f in "$assets"/zombies*.1; do
      [ -f "$f" ] || die "no generated man pages in '$assets' (run zombies __generate-assets)"
      manpage "$f" "$(basename "$f")"
    done
    install -D -m 0644 "$assets/zombies.bash" "$t/usr/share/bash-completion/completions/zombies"
    install -D -m 0644 "$assets/_zombies" "$t/usr/share/zsh/vendor-completions/_zombies"
    install -D -m 0644 "$assets/zombies.fish" "$t/usr/share/fish/vendor_completions.d/zombies.fish"
    install -D -m 0644 "$root/packaging/systemd/zombies.service" "$t/usr/lib/systemd/system/zombies.service"
    section=admin
    short="find zombie processes and the parents that should reap them"
    long=" zombies scans /proc and the cgroup file system of a node, finds every
 zombie process, follows it to the parent that should reap it, names the
 container, pod and likely cause, and shows the PID budget left.
 .
 zombies serve is a node agent exporting these figures as Prometheus
 metrics; its systemd unit is installed disabled."
    ;;
  *) die "unknown package '$pkg' (reaper or zombies)" ;;
esac

# Static by design (a container's PID 1 and a FROM scratch agent have no C library to link to):
# lintian's one error for such binaries is overridden, with the reason, in the package itself.
install -d "$t/usr/share/lintian/overrides"
{
  echo "# Static on purpose: it runs as PID 1 in containers with no C library, and in FROM scratch images."
  echo "$pkg: statically-linked-binary [usr/bin/$pkg]"
} > "$t/usr/share/lintian/overrides/$pkg"
chmod 0644 "$t/usr/share/lintian/overrides/$pkg"

size=$(du -k -s --exclude=DEBIAN "$t" | cut -f1)
cat > "$t/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $size
Section: $section
Priority: optional
Homepage: $SOURCE_URL
Description: $short
$long
CONTROL
find "$t" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb="$out/${pkg}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$t" "$deb" >&2
echo "$deb"
