# shellcheck shell=bash
# Sourced by scripts/setup.sh and the demos: `need CMD PKG` records Debian package PKG when command CMD
# is missing; `need_install` then installs what was recorded (as root, with apt-get), or stops with the
# list of packages to install when not root. Each caller lists only what it uses.
need_pkgs=()
need() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
need_install() {
  [ "${#need_pkgs[@]}" -gt 0 ] || return 0
  # One package may provide several missing commands.
  mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need_pkgs[*]}: install them (sudo apt-get install ${need_pkgs[*]}) or run as root" >&2
    exit 1
  fi
  echo "setup: installing ${need_pkgs[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need_pkgs[@]}" >&2
  need_pkgs=()
}
