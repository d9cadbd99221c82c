#!/usr/bin/env bash
# Install the Debian packages the target builds need (scripts/test-targets.sh,
# scripts/test-aarch64.sh, the musl, clang and fuzz steps of scripts/run-tests.sh).
#
#   scripts/install-cross-deps.sh            everything
#   scripts/install-cross-deps.sh ci         only musl-tools, clang and its
#                                            sanitizer runtimes (CI, scripts/fuzz.sh)
#
# Needs root (or sudo) and apt-get. Already installed packages are skipped,
# so a second run does no network access at all.
set -euo pipefail

ci=(musl-tools clang patchelf)
full=("${ci[@]}" gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

case "${1:-all}" in
ci) want=("${ci[@]}") ;;
all) want=("${full[@]}") ;;
*)
    echo "usage: $0 [all|ci]" >&2
    exit 2
    ;;
esac

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi
updated=0
install_missing() {
    local missing=() pkg
    for pkg in "$@"; do
        installed "$pkg" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-cross-deps: apt-get not found; install by hand: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-cross-deps: installing ${missing[*]}"
    if [ "$updated" -eq 0 ]; then
        "${SUDO[@]}" apt-get update -qq
        updated=1
    fi
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
}
install_missing "${want[@]}"
# libFuzzer and the sanitizer runtimes of clang (scripts/fuzz.sh) come in a
# package named after clang's major version (Debian 12: libclang-rt-14-dev).
major=$(clang -dumpversion | cut -d. -f1)
if apt-cache show "libclang-rt-$major-dev" >/dev/null 2>&1; then
    install_missing "libclang-rt-$major-dev"
fi
