#!/usr/bin/env bash
# The long form of the soak and fault suite (tests/stress/, and the long
# knobs of the exit-delivery and environment races), against the package
# installed in .venv (run scripts/run-tests.sh, or pip install .[test], first).
#
#   bash scripts/soak.sh [SECONDS]    (default 60: churn and faults 60 s each,
#                                      the thread storms half of it)
#
# CI runs the same tests for 2 to 6 s each as part of pytest. Prints one line
# of figures per stress test at the end (kills, worst kill-to-exit, outcomes
# under faults, orphans), the figures the README's "Reliability" section gives.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-60}
PY=${PYTHON:-.venv/bin/python}
report=$(mktemp)
trap 'rm -f "$report"' EXIT
export OHNCP_STRESS_REPORT=$report

storm=$((SECONDS_EACH / 2))
rc=0
OHNCP_STRESS_SECONDS=$SECONDS_EACH "$PY" -m pytest -q -p no:cacheprovider tests/stress \
    -k "not storm" || rc=1
OHNCP_STRESS_SECONDS=$storm "$PY" -m pytest -q -p no:cacheprovider tests/stress -k storm || rc=1
OHNCP_TEST_STORM_S=$storm OHNCP_TEST_ENV_RACE_S=$((SECONDS_EACH / 4)) "$PY" -m pytest -q \
    -p no:cacheprovider tests/test_exit_delivery.py tests/test_environment.py || rc=1

echo
echo "soak: figures (one line per test)"
cat "$report"
[ "$rc" -eq 0 ] && echo "soak: all passed" || echo "soak: FAILED"
exit "$rc"
