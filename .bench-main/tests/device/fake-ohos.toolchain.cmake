# A stand-in for the NDK's build/cmake/ohos.toolchain.cmake, for machines
# without the NDK (scripts/test-targets.sh, step "ohos"). It sets what the
# real file sets that ohncp's CMake looks at: OHOS, CMAKE_SYSTEM_NAME OHOS,
# OHOS_ARCH, and a sysroot with the device's libraries in
# usr/lib/aarch64-linux-ohos. The compiler stays the host's (so the sysroot
# holds host-architecture copies of our runtime), and the sysroot is a find
# root (CMAKE_FIND_ROOT_PATH) rather than CMAKE_SYSROOT, which would hide
# the host's C library from that compiler.
#
#   cmake -DCMAKE_TOOLCHAIN_FILE=tests/device/fake-ohos.toolchain.cmake \
#         -DOHNCP_FAKE_OHOS_SYSROOT=/path/to/sysroot ...
set(OHOS TRUE)
set(CMAKE_SYSTEM_NAME OHOS)
set(CMAKE_SYSTEM_PROCESSOR ${CMAKE_HOST_SYSTEM_PROCESSOR})
if(NOT DEFINED OHOS_ARCH)
  set(OHOS_ARCH arm64-v8a)
endif()
if(NOT OHNCP_FAKE_OHOS_SYSROOT AND DEFINED ENV{OHNCP_FAKE_OHOS_SYSROOT})
  set(OHNCP_FAKE_OHOS_SYSROOT $ENV{OHNCP_FAKE_OHOS_SYSROOT})
endif()
set(CMAKE_FIND_ROOT_PATH ${OHNCP_FAKE_OHOS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
