#!/usr/bin/env bash
# Cross-compile the C runtime, the examples and the C tests for aarch64 Linux
# with Debian's gcc-aarch64-linux-gnu (cmake/aarch64-linux-gnu.cmake) and run
# them with ctest under qemu-user. Too slow for every CI run; its last result
# is recorded in the README ("Device targets and cross builds").
#
# No binfmt_misc is assumed (containers rarely may register it): ctest starts
# each test through the emulator (CMAKE_CROSSCOMPILING_EMULATOR), and the
# runtime starts its spawner through it as well (OHNCP_SPAWNER_LAUNCHER).
# The children are forked by the spawner, so they run emulated too.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
BUILD=${BUILD:-build/aarch64}
SYSROOT=/usr/aarch64-linux-gnu

bash scripts/install-cross-deps.sh all
export OHNCP_SPAWNER_LAUNCHER="qemu-aarch64 -L $SYSROOT"

start=$SECONDS
rm -rf "$BUILD" # a clean build each time: the timing goes in the README
cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DOHNCP_WERROR=ON
cmake --build "$BUILD" -j "$JOBS"
file "$BUILD/lib/libchild_process.so" "$BUILD/lib/ohncp-spawner"
built=$((SECONDS - start))

# What the emulator lacks, for the record (the runtime falls back where it
# uses one of these; tests/c/test_sys_fallback.c forces the fallbacks).
probe=$(mktemp -d)
cat >"$probe/probe.c" <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    static const struct { const char *name; long nr; } calls[] = {
        {"close_range", 436}, {"clone3", 435}, {"pidfd_open", 434},
        {"memfd_create", SYS_memfd_create}};
    for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        errno = 0;
        /* Harmless arguments: an empty range, a NULL clone_args, pid 1. */
        long r = i == 0 ? syscall(calls[i].nr, 100000u, 100001u, 0u)
               : i == 1 ? syscall(calls[i].nr, NULL, 0)
               : i == 2 ? syscall(calls[i].nr, 1, 0)
                        : syscall(calls[i].nr, "probe", 0);
        printf("  %-13s %s\n", calls[i].name, r >= 0 || errno != ENOSYS ? "present" : "ENOSYS");
    }
    return 0;
}
C
aarch64-linux-gnu-gcc -o "$probe/probe" "$probe/probe.c"
echo "syscalls under $(qemu-aarch64 --version | head -1):"
qemu-aarch64 -L "$SYSROOT" "$probe/probe"
rm -rf "$probe"

t0=$SECONDS
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error -j "$JOBS"
echo "test-aarch64: built in ${built} s, tests ran in $((SECONDS - t0)) s under qemu-user"
