# Shared by tools/build-aarch64-wheel.sh and tools/test-aarch64-wheel.sh (sourced, not run).
#
# Everything downloaded or generated goes under one cache folder that these scripts own, so a second
# run is fast and a broken half-made item is simply made again:
#
#   $VART_ASYNC_AARCH64_CACHE   (default ~/.cache/vart-async-aarch64)
#     sysroot-<suite>-arm64/        Debian arm64 root (python3, python3-dev, python3-venv), made by
#                                   mmdebstrap by only extracting packages: no chroot, no emulation
#     include-<suite>-py3.X/        that root's Python headers, with the arm64 pyconfig.h in place
#     openvino-<ver>-cp3X-aarch64/  OpenVINO's aarch64 wheel, unpacked (its CMake package and libs)
#     host-venv-py3.X/              host (x86_64) venv with the build requirements
#     target-venv-<suite>-py3.X/    aarch64 venv run under qemu-aarch64, for the tests
#
# Settings (environment):
#   VART_ASYNC_AARCH64_CACHE   the cache folder above
#   VART_ASYNC_DEBIAN_SUITE    Debian release of the sysroot (default bookworm: Python 3.11, glibc 2.36)
#   VART_ASYNC_JOBS            parallel compile jobs (default 2)

set -euo pipefail

VA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VA_CACHE=${VART_ASYNC_AARCH64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vart-async-aarch64}
VA_SUITE=${VART_ASYNC_DEBIAN_SUITE:-bookworm}
VA_JOBS=${VART_ASYNC_JOBS:-2}
VA_SYSROOT="$VA_CACHE/sysroot-$VA_SUITE-arm64"
# What the sysroot holds. Changing this list remakes the sysroot on the next run.
VA_SYSROOT_PACKAGES="python3 python3-dev python3-venv libstdc++6"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

va_step() { printf '\n=== %s (%ss) ===\n' "$*" "$SECONDS"; }
va_note() { printf '%s\n' "$*"; }
va_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# pip with its output shown only when it says something (minus this machine's notes about absent
# local index folders); fails when pip fails.
va_pip() {
  local py=$1 log rc=0
  shift
  log=$(mktemp)
  "$py" -m pip "$@" >"$log" 2>&1 || rc=$?
  grep -v '^WARNING: Location .* is ignored' "$log" >&2 || true
  rm -f "$log"
  return $rc
}

# Installs the Debian packages that are missing (apt-get update only when something is missing).
va_apt() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || sudo=sudo
  va_note "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian arm64 sysroot: the target's Python headers (for the build) and its interpreter and
# libraries (for the tests, run with `qemu-aarch64 -L <sysroot>`). Packages are only extracted
# (mmdebstrap --variant=extract), which takes seconds; no maintainer script runs, none is needed.
va_sysroot() {
  local stamp="$VA_SYSROOT/.vart-async-sysroot"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$VA_SUITE: $VA_SYSROOT_PACKAGES" ]; then
    return 0
  fi
  va_note "making $VA_SYSROOT (Debian $VA_SUITE arm64: $VA_SYSROOT_PACKAGES)"
  mkdir -p "$VA_CACHE"
  rm -rf "$VA_SYSROOT" "$VA_SYSROOT.partial"
  mmdebstrap --quiet --arch=arm64 --variant=extract --include="${VA_SYSROOT_PACKAGES// /,}" \
    "$VA_SUITE" "$VA_SYSROOT.partial"
  # qemu-aarch64 -L looks a path up in the sysroot first and falls back to the host's. The device
  # nodes that mmdebstrap made there would shadow the host's working ones (its /dev/ptmx gives
  # ENODEV here), so the emulated programs get the host's /dev instead.
  rm -rf "${VA_SYSROOT:?}.partial/dev"
  echo "$VA_SUITE: $VA_SYSROOT_PACKAGES" >"$VA_SYSROOT.partial/.vart-async-sysroot"
  mv "$VA_SYSROOT.partial" "$VA_SYSROOT"
}

# Sets VA_PYVER (3.11), VA_PYTAG (311), VA_SOABI and VA_MULTIARCH from the sysroot's Python.
va_target_python() {
  local root=$1 py cfg
  py=$(cd "$root/usr/bin" && ls python3.[0-9]* 2>/dev/null | grep -E '^python3\.[0-9]+$' | sort -V | tail -1) ||
    true
  [ -n "$py" ] || va_die "no python3.X in $root/usr/bin"
  VA_PYVER=${py#python}
  VA_PYTAG=${VA_PYVER/./}
  cfg=$(ls "$root/usr/lib/python$VA_PYVER"/_sysconfigdata_*.py 2>/dev/null | head -1) || true
  VA_SOABI=""
  VA_MULTIARCH=""
  if [ -n "$cfg" ]; then
    VA_SOABI=$(sed -n "s/^ *'SOABI': '\\([^']*\\)'.*/\\1/p" "$cfg" | head -1)
    VA_MULTIARCH=$(sed -n "s/^ *'MULTIARCH': '\\([^']*\\)'.*/\\1/p" "$cfg" | head -1)
  fi
  [ -n "$VA_SOABI" ] || VA_SOABI="cpython-$VA_PYTAG-aarch64-linux-gnu"
}

# The host interpreter of the same minor version as the target (the wheel's cpXY tag comes from it).
va_host_python() {
  local want=$1 cand
  for cand in "${VART_ASYNC_HOST_PYTHON:-}" "python$want" python3; do
    [ -n "$cand" ] && command -v "$cand" >/dev/null || continue
    if [ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$want" ]; then
      command -v "$cand"
      return 0
    fi
  done
  va_die "the target Python is $want: put python$want on PATH (or set VART_ASYNC_HOST_PYTHON)"
}
