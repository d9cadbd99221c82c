# steps.sh - sourced by run-tests.sh and test-targets.sh: named steps that
# all run, with the names of those that failed collected in `failed`, and
# the test counts that each step printed added up (print_totals).

failed=()
totals_passed=0
totals_failed=0
totals_skipped=0

step() { printf '\n==> %s\n' "$*"; }

# The counts in one step's output, as "passed failed skipped": pytest's
# summary line, ctest's summary (a test program counts once), or the
# runner line of a C test program run directly ("N passed, N failed, N
# skipped"; not counted where ctest's summary is, which may repeat it).
count_tests() {
    awk '
        /^(=+ )?[0-9]+ [a-z]+.* in [0-9.]+s/ && /(passed|failed|skipped|error)/ {
            for (i = 1; i <= NF; i++) {
                gsub(/[=,]/, "", $(i + 1))
                if ($i ~ /^[0-9]+$/) {
                    if ($(i + 1) == "passed" || $(i + 1) == "xpassed" || $(i + 1) == "xfailed") p += $i
                    else if ($(i + 1) == "failed" || $(i + 1) ~ /^error/) f += $i
                    else if ($(i + 1) == "skipped") s += $i
                }
            }
        }
        /tests passed, [0-9]+ tests? failed out of [0-9]+/ {
            ctest = 1
            for (i = 2; i < NF; i++) if ($i == "failed" && $(i + 1) == "out") cf += $(i - 2)
            ct += $NF
        }
        /^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { lp += $1; lf += $3; ls += $5 }
        END {
            if (ctest) { p += ct - cf; f += cf } else { p += lp; f += lf; s += ls }
            printf "%d %d %d\n", p, f, s
        }' "$1"
}

# Run "$@" as a named step; remember it if it fails, and add up its counts.
run_step() {
    local name=$1 log rc=0 p f s
    shift
    step "$name"
    log=$(mktemp)
    "$@" > >(tee "$log") 2>&1 || rc=$?
    wait $! 2>/dev/null || true # tee has written everything
    read -r p f s < <(count_tests "$log")
    rm -f "$log"
    totals_passed=$((totals_passed + p))
    totals_failed=$((totals_failed + f))
    totals_skipped=$((totals_skipped + s))
    if [ "$rc" -eq 0 ]; then
        return 0
    fi
    echo "FAILED: $name"
    failed+=("$name")
    return 1
}

# One line: the tests of every step (pytest tests, C test programs under
# ctest, test cases of C programs run on their own).
print_totals() {
    printf '%s: totals: %d passed, %d failed, %d skipped (every step)\n' "$(basename "$0" .sh)" \
        "$totals_passed" "$totals_failed" "$totals_skipped"
}
