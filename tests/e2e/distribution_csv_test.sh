#!/usr/bin/env bash
# distribution_csv_test.sh — CSV contact upload, CSV export and the test send of distributions through nginx, on a real stack.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
[[ -n ${WAGATE_API_KEY:-} ]] || fail "the stack provisioned no API key (wagate-admin key create)"
export WAGATE_RUN_DIR=$STACK_RUN_DIR
python3 "$WAGATE_SOURCE_DIR/tests/e2e/distribution_csv_test.py" || fail "distribution CSV tests failed"
pass "distribution CSV tests"
