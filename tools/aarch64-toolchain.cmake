# CMake toolchain: Linux/AArch64 (Cortex-A72/A53, as on Versal AI Edge Gen 2 boards) with Debian's
# cross compiler (apt-get install g++-aarch64-linux-gnu). Used by tools/build-aarch64-wheel.sh.
#
# Debian's cross compiler brings its own target C library and libstdc++ (/usr/aarch64-linux-gnu),
# so no --sysroot is needed: the only target files we take from elsewhere are Python's headers,
# which the build script passes as Python_INCLUDE_DIR. The extension modules link no libpython.
#
# Inside AMD's Vitis AI SDK do NOT use this file: `source environment-setup-*` sets CC/CXX with the
# SDK's --sysroot and its own toolchain file (OEToolchainConfig.cmake); see docs/board.md.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(_vart_async_triple "aarch64-linux-gnu")
if(DEFINED ENV{VART_ASYNC_CROSS_PREFIX})  # e.g. /opt/cross/bin/aarch64-none-linux-gnu-
  set(_vart_async_prefix "$ENV{VART_ASYNC_CROSS_PREFIX}")
else()
  set(_vart_async_prefix "${_vart_async_triple}-")
endif()
set(CMAKE_C_COMPILER "${_vart_async_prefix}gcc")
set(CMAKE_CXX_COMPILER "${_vart_async_prefix}g++")
set(CMAKE_AR "${_vart_async_prefix}ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${_vart_async_prefix}ranlib" CACHE FILEPATH "")
set(CMAKE_STRIP "${_vart_async_prefix}strip" CACHE FILEPATH "")

# Same CPU baseline as the board's userland (AMD's Yocto image for Cortex-A72/A53 is ARMv8-A).
set(CMAKE_C_FLAGS_INIT "-march=armv8-a")
set(CMAKE_CXX_FLAGS_INIT "-march=armv8-a")

# Target libraries and headers only from the cross toolchain's root (and explicit paths given on
# the command line); programs (python, pkg-config) from the host. Packages are searched both ways:
# the header-only build requirements (pybind11, nlohmann-json) come from the host's pip, and the
# aarch64 OpenVINO wheel is passed explicitly as OpenVINO_DIR.
set(CMAKE_FIND_ROOT_PATH "/usr/${_vart_async_triple}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must never hand the host's x86_64 libraries to the cross build (VART_ASYNC_VART=AUTO
# would otherwise pick up a host vart-ml.pc if one existed). An empty libdir makes it find nothing
# unless the caller points PKG_CONFIG_LIBDIR at target .pc files on purpose.
if(NOT DEFINED ENV{PKG_CONFIG_LIBDIR})
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${_vart_async_triple}/pkgconfig:/usr/${_vart_async_triple}/lib/pkgconfig")
endif()
