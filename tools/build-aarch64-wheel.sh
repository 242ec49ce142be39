#!/usr/bin/env bash
# Cross-builds the linux_aarch64 wheel of vart_async (Versal AI Edge Gen 2 boards: Cortex-A72/A53).
#
#   tools/build-aarch64-wheel.sh OUTDIR        -> OUTDIR/vart_async-<ver>-cp3X-cp3X-linux_aarch64.whl
#
# Two modes:
#
# * Debian (default; what CI and a fresh Debian 12 machine do): Debian's cross compiler
#   (g++-aarch64-linux-gnu), the target Python's headers from a Debian arm64 sysroot (bookworm:
#   Python 3.11), the VART engine against our emulator (csrc/vart_emu), and the OpenVINO engine
#   linked against OpenVINO's aarch64 wheel (the release pinned in csrc/engines/openvino). Installs
#   what it needs with apt and pip; downloads and sysroots are cached (see tools/aarch64/common.sh).
#
# * Vitis AI SDK (after `source <sdk>/environment-setup-cortexa72-cortexa53-amd-linux`, detected by
#   OECORE_TARGET_SYSROOT): the SDK's compiler, sysroot, CMake toolchain file and Python headers, and
#   the VART engine against the real libvart-ml found by `pkg-config vart-ml` (VART_ASYNC_VART=SDK).
#   See docs/board.md. Not verified here: no SDK is available on this machine.
#
# Settings (environment), besides those in tools/aarch64/common.sh:
#   VART_ASYNC_VART             EMULATOR (Debian mode default) | SDK (SDK mode default) | AUTO | OFF
#   VART_ASYNC_AARCH64_OPENVINO auto (default in Debian mode: the engine if OpenVINO's aarch64 wheel
#                               can be downloaded) | on (fail without it) | off (SDK mode default)
#   VART_ASYNC_HOST_PYTHON      host interpreter (same X.Y as the target's Python)
#   VART_ASYNC_TARGET_SYSROOT   another target root holding usr/include/python3.X (SDK mode sets it)
source "$(dirname "$0")/aarch64/common.sh"

[ $# -eq 1 ] || va_die "usage: $0 OUTDIR"
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
LOG_DIR="$VA_ROOT/build/aarch64"
mkdir -p "$LOG_DIR"

if [ -n "${OECORE_TARGET_SYSROOT:-}" ]; then
  MODE=sdk
  TARGET_ROOT=${VART_ASYNC_TARGET_SYSROOT:-$OECORE_TARGET_SYSROOT}
  TOOLCHAIN=${VART_ASYNC_TOOLCHAIN_FILE:-${OE_CMAKE_TOOLCHAIN_FILE:-${OECORE_NATIVE_SYSROOT:?}/usr/share/cmake/OEToolchainConfig.cmake}}
  [ -f "$TOOLCHAIN" ] || va_die "the SDK's CMake toolchain file $TOOLCHAIN is missing (set VART_ASYNC_TOOLCHAIN_FILE)"
  : "${VART_ASYNC_VART:=SDK}"
  : "${VART_ASYNC_AARCH64_OPENVINO:=off}"
else
  MODE=debian
  TOOLCHAIN=${VART_ASYNC_TOOLCHAIN_FILE:-$VA_ROOT/tools/aarch64-toolchain.cmake}
  : "${VART_ASYNC_VART:=EMULATOR}"
  : "${VART_ASYNC_AARCH64_OPENVINO:=auto}"
  va_step "cross toolchain and sysroot tools (apt)"
  va_apt g++-aarch64-linux-gnu mmdebstrap binutils
  va_step "Debian $VA_SUITE arm64 sysroot"
  va_sysroot
  TARGET_ROOT=${VART_ASYNC_TARGET_SYSROOT:-$VA_SYSROOT}
fi
if [ "$VART_ASYNC_VART" = SDK ]; then
  # What the SDK samples check (vart-ml-version.mk): VART-ML >= 0.4.0 through pkg-config.
  pkg-config --atleast-version=0.4.0 vart-ml ||
    va_die "vart-ml 0.4.0 or later is required: 'pkg-config vart-ml' failed (source the SDK's environment-setup-* first)"
  va_note "VART-ML $(pkg-config --modversion vart-ml): $(pkg-config --cflags --libs vart-ml)"
fi
va_target_python "$TARGET_ROOT"
HOST_PY=$(va_host_python "$VA_PYVER")
if [ "$MODE" = debian ] && ! "$HOST_PY" -c "import ensurepip" 2>/dev/null; then
  va_apt "python$VA_PYVER-venv"  # Debian's own python3.X has venv/ensurepip in a separate package
fi
va_note "mode: $MODE; target Python $VA_PYVER ($VA_SOABI) in $TARGET_ROOT; host Python $HOST_PY"

# ---- the target's Python headers ------------------------------------------------------------------
# Debian splits them: usr/include/python3.X/pyconfig.h only dispatches on the compiler's target to
# usr/include/<multiarch>/python3.X/pyconfig.h. Put the arm64 one in place, so that the include dir
# CMake gets is self-contained and no other header of the sysroot leaks into the build.
PY_INC="$TARGET_ROOT/usr/include/python$VA_PYVER"
[ -f "$PY_INC/Python.h" ] || va_die "no Python.h in $PY_INC (python3-dev of the target)"
if [ -n "$VA_MULTIARCH" ] && [ -f "$TARGET_ROOT/usr/include/$VA_MULTIARCH/python$VA_PYVER/pyconfig.h" ]; then
  inc="$VA_CACHE/include-$(basename "$TARGET_ROOT")-py$VA_PYVER"
  rm -rf "$inc" && mkdir -p "$inc"
  cp -a "$PY_INC/." "$inc/"
  cp "$TARGET_ROOT/usr/include/$VA_MULTIARCH/python$VA_PYVER/pyconfig.h" "$inc/pyconfig.h"
  PY_INC=$inc
fi

# ---- host build environment (architecture-independent build requirements) -----------------------
va_step "host build environment (pip)"
HOST_VENV="$VA_CACHE/host-venv-py$VA_PYVER"
# build-system.requires without openvino (its x86_64 wheel is of no use here: the aarch64 one is fetched below)
REQS=$("$HOST_PY" - "$VA_ROOT/pyproject.toml" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    import tomllib
    reqs = tomllib.loads(text)["build-system"]["requires"]
except ImportError:  # Python 3.10
    block = re.search(r"^\[build-system\][^\[]*?requires\s*=\s*\[(.*?)\]", text, re.S | re.M).group(1)
    reqs = re.findall(r'"([^"]+)"', block)
reqs = [r for r in reqs if not re.match(r"openvino\b", r)]
print("\n".join(sorted(reqs + ["ninja", "cmake>=3.21"])))
EOF
)
if [ ! -x "$HOST_VENV/bin/python" ] || [ "$(cat "$HOST_VENV/.reqs" 2>/dev/null)" != "$REQS" ]; then
  rm -rf "$HOST_VENV"
  "$HOST_PY" -m venv "$HOST_VENV"
  mapfile -t req_list <<<"$REQS"
  va_pip "$HOST_VENV/bin/python" install -q "${req_list[@]}"
  echo "$REQS" >"$HOST_VENV/.reqs"
fi

# ---- OpenVINO's aarch64 wheel (its CMake package and libopenvino.so.NNNN) --------------------------
OV_ARGS=()
OV_VERSION=$(sed -n 's/^set(VART_ASYNC_OPENVINO_VERSION "\([^"]*\)".*/\1/p' "$VA_ROOT/csrc/engines/openvino/CMakeLists.txt" 2>/dev/null || true)
OV_MODE=OFF
if [ "$VART_ASYNC_AARCH64_OPENVINO" != off ]; then
  va_step "OpenVINO $OV_VERSION aarch64 wheel"
  [ -n "$OV_VERSION" ] || va_die "no OpenVINO pin found in csrc/engines/openvino/CMakeLists.txt"
  ov_dir="$VA_CACHE/openvino-$OV_VERSION-cp$VA_PYTAG-aarch64"
  if [ ! -f "$ov_dir/.complete" ]; then
    rm -rf "$ov_dir" && mkdir -p "$ov_dir/dl"
    # glibc >= 2.35 on the target: OpenVINO publishes its aarch64 wheels as manylinux_2_35.
    va_pip "$HOST_VENV/bin/python" download -q --no-deps --only-binary=:all: --platform manylinux_2_35_aarch64 \
      --python-version "$VA_PYVER" --implementation cp --abi "cp$VA_PYTAG" -d "$ov_dir/dl" \
      "openvino==$OV_VERSION" || true
    whl=$(ls "$ov_dir"/dl/openvino-*.whl 2>/dev/null | head -1) || true
    if [ -n "$whl" ]; then
      "$HOST_PY" -m zipfile -e "$whl" "$ov_dir" && rm -rf "$ov_dir/dl" && touch "$ov_dir/.complete"
    fi
  fi
  if [ -f "$ov_dir/openvino/cmake/OpenVINOConfig.cmake" ]; then
    OV_MODE=ON
    OV_ARGS=(-Ccmake.define.OpenVINO_DIR="$ov_dir/openvino/cmake")
    va_note "OpenVINO engine: linking against $ov_dir/openvino/libs"
  elif [ "$VART_ASYNC_AARCH64_OPENVINO" = on ]; then
    va_die "OpenVINO's aarch64 wheel (openvino==$OV_VERSION, cp$VA_PYTAG, manylinux_2_35_aarch64) could not be downloaded"
  else
    va_note "WARNING: OpenVINO's aarch64 wheel could not be downloaded: building WITHOUT the OpenVINO engine"
  fi
fi

# ---- the wheel -----------------------------------------------------------------------------------
va_step "cross-building the wheel (VART engine: $VART_ASYNC_VART, OpenVINO engine: $OV_MODE)"
rm -f "$OUT"/vart_async-*-cp"$VA_PYTAG"-*linux_aarch64.whl
BUILD_DIR="$VA_ROOT/build/aarch64/cp$VA_PYTAG-$MODE"
LOG="$LOG_DIR/build-cp$VA_PYTAG-$MODE.log"
# _PYTHON_HOST_PLATFORM makes scikit-build-core tag the wheel linux_aarch64. The host Python's
# interpreter tag (cp3X) is right because it is the target's version. The extension suffix comes
# from SKBUILD_SOABI (pybind11 reads it when cross-compiling) and the headers from Python_INCLUDE_DIR;
# both override what scikit-build-core derives from the host interpreter. (pybind11 then warns that
# the suffix does not match Python_SOABI: FindPython asks the host interpreter for that one; the
# warning is expected and harmless, the suffix is the target's.)
if ! env VART_ASYNC_VART="$VART_ASYNC_VART" VART_ASYNC_OPENVINO="$OV_MODE" _PYTHON_HOST_PLATFORM=linux-aarch64 \
  CMAKE_BUILD_PARALLEL_LEVEL="$VA_JOBS" \
  "$HOST_VENV/bin/python" -m pip wheel --no-build-isolation --no-deps -v -w "$OUT" "$VA_ROOT" \
  -Ccmake.toolchain-file="$TOOLCHAIN" \
  -Cbuild-dir="$BUILD_DIR" \
  -Ccmake.define.Python_INCLUDE_DIR="$PY_INC" \
  -Ccmake.define.SKBUILD_SOABI="$VA_SOABI" \
  -Ccmake.define.PYBIND11_USE_CROSSCOMPILING=ON \
  "${OV_ARGS[@]}" >"$LOG" 2>&1; then
  grep -v '^WARNING: Location' "$LOG" | tail -60 >&2
  va_die "the cross build failed (full log: $LOG)"
fi
grep -E "vart-async: " "$LOG" || true
va_note "(full build log: $LOG)"

# ---- check: every native module is AArch64 -------------------------------------------------------
va_step "checking the wheel"
WHEEL=$(ls "$OUT"/vart_async-*-cp"$VA_PYTAG"-*linux_aarch64.whl 2>/dev/null | head -1) || true
[ -n "$WHEEL" ] || va_die "no linux_aarch64 wheel in $OUT (log: $LOG)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$HOST_PY" -m zipfile -e "$WHEEL" "$tmp"
n=0
while IFS= read -r so; do
  machine=$(readelf -h "$so" | sed -n 's/^ *Machine: *//p')
  printf '%-55s Machine: %s\n' "${so#"$tmp"/}" "$machine"
  [ "$machine" = AArch64 ] || va_die "${so#"$tmp"/} is not AArch64 code"
  n=$((n + 1))
done < <(find "$tmp" -name '*.so' | sort)
[ "$n" -gt 0 ] || va_die "the wheel holds no native module"
if [ "$OV_MODE" = ON ] && ! ls "$tmp"/vart_async/_openvino.*.so >/dev/null 2>&1; then
  va_die "OpenVINO was found but the wheel has no _openvino module (log: $LOG)"
fi
va_note "$WHEEL"
va_note "built in ${SECONDS}s"
