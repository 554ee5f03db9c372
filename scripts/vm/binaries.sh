#!/usr/bin/env bash
# Usage: scripts/vm/binaries.sh ARCH   (x86_64 | aarch64)
# Prints two lines: the static reaper and the static zombies for ARCH. Prebuilt binaries are taken
# from REAPER_BIN_<ARCH> / ZOMBIES_BIN_<ARCH> (REAPER_BIN_AARCH64, ZOMBIES_BIN_X86_64, ...; for x86_64
# also REAPER_BIN / ZOMBIES_STATIC_BIN, which scripts/test.sh exports); what is not given is built
# here with cargo for the ARCH-unknown-linux-musl target (linked by rust-lld when cross-building).
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=${1:?usage: scripts/vm/binaries.sh x86_64|aarch64}
case "$arch" in x86_64 | aarch64) ;; *) echo "vm/binaries: unknown architecture '$arch'; use x86_64 or aarch64" >&2; exit 2 ;; esac
ARCH=$(echo "$arch" | tr '[:lower:]' '[:upper:]')
reaper_var=REAPER_BIN_$ARCH zombies_var=ZOMBIES_BIN_$ARCH
reaper=${!reaper_var:-} zombies=${!zombies_var:-}
if [ "$arch" = x86_64 ]; then
  reaper=${reaper:-${REAPER_BIN:-}} zombies=${zombies:-${ZOMBIES_STATIC_BIN:-}}
fi
target=$arch-unknown-linux-musl
if [ -z "$reaper" ] || [ -z "$zombies" ]; then
  rustup target list --installed 2>/dev/null | grep -qx "$target" \
    || { echo "vm/binaries: the Rust target $target is missing: rustup target add $target (scripts/setup.sh does)" >&2; exit 1; }
  pkgs=()
  [ -n "$reaper" ] || pkgs+=(-p reaper)
  [ -n "$zombies" ] || pkgs+=(-p zombies)
  linker_var=CARGO_TARGET_$(echo "$target" | tr '[:lower:]-' '[:upper:]_')_LINKER
  if [ "$arch" != "$(uname -m)" ] && [ -z "${!linker_var:-}" ]; then
    export "$linker_var=rust-lld"
  fi
  cargo build --release --locked "${pkgs[@]}" --target "$target" >&2
  dir=${CARGO_TARGET_DIR:-$PWD/target}/$target/release
  reaper=${reaper:-$dir/reaper} zombies=${zombies:-$dir/zombies}
fi
want=$( [ "$arch" = aarch64 ] && echo 'ARM aarch64' || echo 'x86-64')
for f in "$reaper" "$zombies"; do
  [ -x "$f" ] || { echo "vm/binaries: '$f' is not an executable file" >&2; exit 1; }
  desc=$(file -L -b "$f")
  case "$desc" in *"$want"*) ;; *) echo "vm/binaries: '$f' is not an $arch binary ($desc)" >&2; exit 1 ;; esac
done
echo "$reaper"
echo "$zombies"
