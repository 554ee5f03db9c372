#!/usr/bin/env bash
# The project's one test command (README.md, .ci/run). On a fresh Debian machine, as root, it installs
# what the tests need when missing, then checks formatting and lints, builds the static reaper and runs
# every test of the workspace. A missing tool makes the run fail; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p zombies --all-targets --features gen-assets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q

step "the docs stand alone (no link outside the repository)"
if grep -rnIE '\.\./shared|/work/shared' README.md docs crates tests e2e demo scripts/demo.sh scripts/demo-podman.sh; then
  echo "test: the lines above point outside the repository: move what users need into docs/" >&2
  exit 1
fi

step "build the static reaper"
REAPER_BIN=$(scripts/build-reaper.sh)
export REAPER_BIN
echo "REAPER_BIN=$REAPER_BIN"

step "build the static zombies (for its FROM scratch image)"
ZOMBIES_STATIC_BIN=$(scripts/build-zombies.sh)
export ZOMBIES_STATIC_BIN
echo "ZOMBIES_STATIC_BIN=$ZOMBIES_STATIC_BIN"

step "build the static reaper-oci and its installer (for the installer image)"
REAPER_OCI_STATIC_DIR=$(scripts/build-reaper-oci.sh)
export REAPER_OCI_STATIC_DIR
echo "REAPER_OCI_STATIC_DIR=$REAPER_OCI_STATIC_DIR"

step "the release: scripts/release.sh into dist/ (binaries per arch, .deb, OCI archives, checksums)"
# The tests of tests/e2e/tests/release.rs check this dist/. A clone without an http(s) origin gets a
# placeholder home page for the packages' Homepage and the images' source label.
REAPER_DIST=$(SOURCE_URL=${SOURCE_URL:-https://example.invalid/reaper} scripts/release.sh)
export REAPER_DIST
echo "REAPER_DIST=$REAPER_DIST"
# The VM tests boot the released arm64 binaries (scripts/vm/binaries.sh takes them from these).
REAPER_BIN_AARCH64=$(echo "$REAPER_DIST"/reaper-*-arm64)
ZOMBIES_BIN_AARCH64=$(echo "$REAPER_DIST"/zombies-*-arm64)
export REAPER_BIN_AARCH64 ZOMBIES_BIN_AARCH64

step "the incident-1 demo, self-checking"
bash scripts/demo.sh --check

step "the incident-2 demo on podman, self-checking"
ZOMBIES_BIN=$ZOMBIES_STATIC_BIN bash scripts/demo.sh --runtime podman --check

step "VM tests: reaper on an arm64 kernel, a cgroup-v2-only x86_64 node (qemu-system, TCG)"
bash scripts/vm/test.sh

step "tests"
# Tests spawn real processes and namespaces; two cores are shared by every test binary.
cargo test --workspace --locked -- --test-threads=2
