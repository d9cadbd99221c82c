#!/usr/bin/env bash
# Fuzz the spawner's START parser (src/request.c) with libFuzzer.
#
#   scripts/fuzz.sh [seconds]     default 25; CI (run-tests.sh) runs the default
#
# Builds tests/fuzz/fuzz_request.c with clang -fsanitize=fuzzer,address,undefined
# into build/fuzz/, seeds the corpus with well-formed messages
# (tests/fuzz/make_seeds.c) and runs for the given time on one core. The
# corpus grows across runs in build/fuzz/corpus; a crash leaves its input in
# build/fuzz/ (crash-*, oom-*, leak-*) and the exit status is non-zero.
# Needs clang (scripts/install-cross-deps.sh ci installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${1:-25}
CLANG=${CLANG:-clang}
OUT=build/fuzz
if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found (scripts/install-cross-deps.sh ci installs it)" >&2
    exit 1
fi
mkdir -p "$OUT/corpus"
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc)
"$CLANG" "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -o "$OUT/fuzz_request" tests/fuzz/fuzz_request.c src/request.c src/sys.c
"$CLANG" "${flags[@]}" -o "$OUT/make_seeds" tests/fuzz/make_seeds.c
"$OUT/make_seeds" "$OUT/corpus"
# malloc_limit_mb: an allocation the input only claims is a finding, as the
# 10 GB one was. -close_fd_mask=3: the target prints nothing worth reading.
cd "$OUT"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} ./fuzz_request -max_total_time="$SECONDS_TO_RUN" \
    -malloc_limit_mb=64 -rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 corpus
