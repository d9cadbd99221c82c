#!/usr/bin/env bash
# The single test command for ohncp; .ci/run execs it.
#
#   1. a venv at .venv (python3 >= 3.10; reused if it works) with ".[test]"
#      installed the way a user installs it (pip, build isolation on)
#   2. the README's first command run as written in a fresh venv; then
#      pytest -q tests (no test collected counts as a failure)
#   3. mypy --strict src/ohncp, ruff check
#   4. the C tests: build/ci, then build/ci-asan with -DOHNCP_SANITIZE=ON,
#      then build/ci-tsan with -DOHNCP_TSAN=ON (ThreadSanitizer); test_shim
#      among them: the Python binding's C half, built from src/ohncp/_shim.c
#      and _api.c with the C tests' flags
#   5. the C runtime and C tests built with musl-gcc (build/ci-musl) and with
#      clang -Werror (build/ci-clang), run natively; the compilers come from
#      scripts/install-cross-deps.sh ci (the other targets: test-targets.sh)
#   6. libFuzzer on the spawner's START parser for 20 s (scripts/fuzz.sh; clang
#      and its runtimes from the same install as step 5)
#   7. when run as root: the isolation tests again as an unprivileged user
#      (nobody), C and pytest, since isolated mode takes another path there
#      (pytest through a system python3 of the venv's version if nobody
#      cannot reach the venv's own interpreter)
#
# Every step runs even if an earlier one failed (except when the install
# fails); the exit status is non-zero if any step failed. The last line adds
# up the tests of every step (passed, failed, skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
JOBS=${JOBS:-2}
. scripts/steps.sh # (the working directory is the top of the tree)

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null
}

# ---- 1. venv and install ----------------------------------------------------
if ! python_ok "$PYTHON"; then
    echo "run-tests: $PYTHON is missing or older than 3.10" >&2
    exit 1
fi
if ! python_ok "$VENV/bin/python" || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    step "create $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
step "pip install .[test]"
# A local directory is always rebuilt and reinstalled, so the venv tests the
# tree as it is now.
"$VENV/bin/python" -m pip install ".[test]"

# The README's first command, literally, from the top of the tree in a fresh
# venv, as a new user runs it (the second one is this script).
readme_first_command() {
    local venv rc=0 cmd
    cmd=$(awk '/^```sh$/ { getline; print; exit }' README.md | sed 's/[[:space:]]*#.*$//')
    echo "README: $cmd"
    [ -n "$cmd" ] || return 1
    venv=$(mktemp -d)
    "$PYTHON" -m venv "$venv" &&
        (. "$venv/bin/activate" && bash -euc "$cmd") || rc=$?
    rm -rf "$venv"
    return "$rc"
}
run_step "README's first command in a fresh venv" readme_first_command || true

# ---- 2. pytest ----------------------------------------------------------------
pytest_step() {
    local rc=0
    "$VENV/bin/pytest" -q tests || rc=$?
    if [ "$rc" -eq 5 ]; then
        echo "pytest collected no tests"
    fi
    return "$rc"
}
run_step "pytest" pytest_step || true

# ---- 3. type check and lint ----------------------------------------------------
run_step "mypy --strict src/ohncp" "$VENV/bin/mypy" --strict src/ohncp || true
run_step "ruff check" "$VENV/bin/ruff" check src/ohncp tests benchmarks build_ffi.py setup.py || true

# ---- 4. C tests ------------------------------------------------------------------
if command -v cmake >/dev/null 2>&1 && command -v ctest >/dev/null 2>&1; then
    CMAKE=cmake
    CTEST=ctest
else
    step "pip install cmake (none on PATH)"
    "$VENV/bin/python" -m pip install --quiet "cmake>=3.18"
    CMAKE=$VENV/bin/cmake
    CTEST=$VENV/bin/ctest
fi

c_tests() {
    local dir=$1
    shift
    "$CMAKE" -S . -B "$dir" "$@" &&
        "$CMAKE" --build "$dir" -j "$JOBS" &&
        "$CTEST" --test-dir "$dir" --output-on-failure --no-tests=error
}
run_step "C tests (build/ci)" c_tests build/ci || true

# LeakSanitizer stops the world with ptrace; where that is refused (under a
# debugger or tracer, some sandboxes) it dies with a fatal error instead of
# checking. Probe once: leak checking stays on only if it finds a real leak.
lsan_works() {
    local dir
    dir=$(mktemp -d)
    printf '#include <stdlib.h>\nvoid *keep;\nint main(void){keep=malloc(7);keep=0;return 0;}\n' \
        >"$dir/leak.c"
    local out=""
    if cc -fsanitize=address -g -o "$dir/leak" "$dir/leak.c" 2>/dev/null; then
        out=$(ASAN_OPTIONS=detect_leaks=1 "$dir/leak" 2>&1 || true)
    fi
    rm -rf "$dir"
    [[ "$out" == *"detected memory leaks"* ]]
}
if lsan_works; then
    detect_leaks=1
else
    detect_leaks=0
    echo "run-tests: LeakSanitizer does not work here; ASan runs without leak checks"
fi
# handle_segv=0: children that crash on purpose (the tests check that a
# SIGSEGV death is reported as signal 11) must die by the signal, not by
# ASan's report and exit(1). Bad accesses are still caught by ASan's checks.
asan_tests() {
    ASAN_OPTIONS="detect_leaks=$detect_leaks:handle_segv=0:halt_on_error=1" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        c_tests build/ci-asan -DOHNCP_SANITIZE=ON
}
run_step "C tests with sanitizers (build/ci-asan)" asan_tests || true
# ThreadSanitizer: ctest sets TSAN_OPTIONS itself (tests/c/CMakeLists.txt),
# and any report fails the test that caused it.
tsan_tests() {
    c_tests build/ci-tsan -DOHNCP_TSAN=ON -DOHNCP_BUILD_EXAMPLES=OFF
}
run_step "C tests with ThreadSanitizer (build/ci-tsan)" tsan_tests || true

# ---- 5. musl and clang ---------------------------------------------------------------
# (libFuzzer comes in a package of its own, beside clang)
libfuzzer_present() {
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' |
        clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1
}
toolchains_present() {
    command -v musl-gcc >/dev/null 2>&1 && command -v clang >/dev/null 2>&1 && libfuzzer_present
}
if ! toolchains_present; then
    run_step "install musl-gcc and clang" bash scripts/install-cross-deps.sh ci || true
fi
# The examples run in build/ci and build/ci-asan already; example_args_mode
# compares the order of two lines printed by two threads, which races.
musl_tests() {
    CC=musl-gcc c_tests build/ci-musl -DOHNCP_WERROR=ON -DOHNCP_BUILD_EXAMPLES=OFF
}
clang_tests() {
    CC=clang CXX=clang++ c_tests build/ci-clang -DOHNCP_WERROR=ON -DOHNCP_BUILD_EXAMPLES=OFF
}
run_step "C tests with musl libc (build/ci-musl)" musl_tests || true
run_step "C tests with clang (build/ci-clang)" clang_tests || true

# ---- 6. fuzzing -------------------------------------------------------------------------
if command -v clang >/dev/null 2>&1 && libfuzzer_present; then
    run_step "fuzz the START parser (scripts/fuzz.sh, 20 s)" bash scripts/fuzz.sh 20 || true
else
    echo
    echo "run-tests: clang with libFuzzer is missing: the fuzz step is skipped"
fi

# ---- 7. isolation as an unprivileged user --------------------------------------------
# Isolated mode works differently as root (namespaces, then a real uid of
# its own) and as anyone else (a user namespace, Landlock): both must hold.
NOBODY_UID=65534
as_nobody() {
    setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_UID" --clear-groups "$@"
}
unprivileged_isolation() {
    local tmp rc=0
    tmp=$(mktemp -d)
    chown "$NOBODY_UID:$NOBODY_UID" "$tmp"
    # nobody must read and run what was built, and have a TMPDIR of its own
    chmod -R o+rX build/ci "$VENV" tests
    (cd build/ci && TMPDIR=$tmp as_nobody ./tests/c/test_isolation) || rc=1
    # The venv's interpreter may live where nobody cannot go (/root/.pyenv).
    # Then a system python3 of the same version runs the venv's packages
    local root=$PWD
    local py=("$root/$VENV/bin/python")
    if ! as_nobody "$VENV/bin/python" -c pass >/dev/null 2>&1 ||
        ! as_nobody env HOME="$tmp" "$VENV/bin/pytest" --version >/dev/null 2>&1; then
        py=()
        local version sys_py
        version=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        for sys_py in "/usr/bin/python$version" /usr/bin/python3; do
            if [ -x "$sys_py" ] && as_nobody "$sys_py" -c \
                "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$version' else 1)" \
                2>/dev/null; then
                py=(env PYTHONPATH="$("$VENV/bin/python" -c \
                    'import sysconfig; print(sysconfig.get_paths()["purelib"])')" "$sys_py")
                break
            fi
        done
    fi
    if [ "${#py[@]}" -ne 0 ]; then
        (cd "$tmp" && TMPDIR=$tmp as_nobody env HOME="$tmp" "${py[@]}" -m pytest -q \
            -p no:cacheprovider --basetemp="$tmp/pytest" "$root/tests/test_isolation.py") || rc=1
    else
        echo "run-tests: no Python that nobody can run: the pytest isolation run is skipped"
    fi
    rm -rf "$tmp"
    return "$rc"
}
if [ "$(id -u)" -ne 0 ]; then
    echo
    echo "run-tests: not root, so step 7 is skipped: every run above was unprivileged already"
elif ! command -v setpriv >/dev/null 2>&1; then
    echo
    echo "run-tests: setpriv (util-linux) is missing: the unprivileged isolation run is skipped"
else
    run_step "isolation tests as nobody" unprivileged_isolation || true
fi

# ---- result ------------------------------------------------------------------------
echo
if [ "${#failed[@]}" -ne 0 ]; then
    printf 'run-tests: FAILED: %s\n' "${failed[@]}"
    print_totals
    exit 1
fi
echo "run-tests: all steps passed"
print_totals
