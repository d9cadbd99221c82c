# steps.sh - sourced by run-tests.sh and test-targets.sh: named steps that
# all run, with the names of those that failed collected in `failed`.

failed=()

step() { printf '\n==> %s\n' "$*"; }

# Run "$@" as a named step; remember it if it fails.
run_step() {
    local name=$1
    shift
    step "$name"
    if "$@"; then
        return 0
    fi
    echo "FAILED: $name"
    failed+=("$name")
    return 1
}
