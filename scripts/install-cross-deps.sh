#!/usr/bin/env bash
# Install the Debian packages the target builds need (scripts/test-targets.sh,
# scripts/test-aarch64.sh, the musl and clang steps of scripts/run-tests.sh).
#
#   scripts/install-cross-deps.sh            everything
#   scripts/install-cross-deps.sh ci         only musl-tools and clang (CI)
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

missing=()
for pkg in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-cross-deps: apt-get not found; install by hand: ${missing[*]}" >&2
    exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi
echo "install-cross-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
