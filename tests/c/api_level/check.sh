#!/bin/sh
# check.sh CC INCLUDE_DIR SOURCE_DIR - the API level guards (include/ohncp_api_level.h):
# code for API 22 fails to compile at level 20 with a message naming level 22,
# and builds at 22; code for API 20 builds at 20 (also a 26.1 call at 2600
# fails, at 2601 builds). Exits non-zero on the first surprise.
set -u
cc=$1 inc=$2 src=$3
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
compile() { "$cc" -fsyntax-only -Wall -Wextra -Werror -I"$inc" "$@" 2>"$err"; }

if compile -DOHNCP_API_LEVEL=20 "$src/uses_api22.c"; then
    echo "FAIL: uses_api22.c compiled at API level 20"; exit 1
fi
grep -q "introduced in API level 22" "$err" || { echo "FAIL: no level in:"; cat "$err"; exit 1; }
echo "ok   API 22 code refused at level 20: $(grep -m1 'API level 22' "$err")"
compile -DOHNCP_API_LEVEL=22 "$src/uses_api22.c" || { cat "$err"; exit 1; }
echo "ok   API 22 code builds at level 22"
compile "$src/uses_api22.c" || { cat "$err"; exit 1; }
echo "ok   and without OHNCP_API_LEVEL"
compile -DOHNCP_API_LEVEL=20 "$src/uses_api20.c" || { cat "$err"; exit 1; }
echo "ok   API 20 code builds at level 20"
printf '#include <AbilityKit/native_child_process.h>\nint f(void){ OH_AbilityRuntime_ChildProcessInfosHandle h; uint32_t n; return OH_Ability_AcquireChildProcessInfos(&h, &n); }\n' >"$err.c"
if compile -DOHNCP_API_LEVEL=2600 "$err.c"; then
    echo "FAIL: a 26.1 call compiled at 26.0"; rm -f "$err.c"; exit 1
fi
grep -q "introduced in API level 26.1.0" "$err" || { cat "$err"; rm -f "$err.c"; exit 1; }
compile -DOHNCP_API_LEVEL=2601 "$err.c" || { cat "$err"; rm -f "$err.c"; exit 1; }
rm -f "$err.c"
echo "ok   a 26.1 call: refused at 2600, builds at 2601"
