# Toolchain file: generic aarch64 Linux (glibc) with Debian's cross compiler
# (gcc-aarch64-linux-gnu; scripts/install-cross-deps.sh installs it).
#
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# Where qemu-aarch64 is installed, it becomes the emulator CMake and ctest run
# target programs with, and the C tests start the spawner through it too
# (OHNCP_SPAWNER_LAUNCHER, set per test in tests/c/CMakeLists.txt), so ctest
# works without binfmt_misc. OHNCP_CROSS_PREFIX picks another triplet's tools.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(OHNCP_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${OHNCP_CROSS_TRIPLET}-gcc)
find_program(OHNCP_CROSS_CXX ${OHNCP_CROSS_TRIPLET}-g++)
if(OHNCP_CROSS_CXX)
  set(CMAKE_CXX_COMPILER ${OHNCP_CROSS_CXX})
endif()

# Debian installs the target's libc below /usr/<triplet>.
set(OHNCP_CROSS_ROOT /usr/${OHNCP_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH ${OHNCP_CROSS_ROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(OHNCP_QEMU qemu-aarch64)
if(OHNCP_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${OHNCP_QEMU} -L ${OHNCP_CROSS_ROOT})
endif()
