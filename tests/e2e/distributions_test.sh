#!/usr/bin/env bash
# distributions_test.sh — creating, reading and listing distributions through nginx, on a real stack.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
[[ -n ${WAGATE_API_KEY:-} ]] || fail "the stack provisioned no API key (wagate-admin key create)"
export WAGATE_RUN_DIR=$STACK_RUN_DIR
python3 "$WAGATE_SOURCE_DIR/tests/e2e/distributions_test.py" || fail "distributions tests failed"
pass "distributions tests"
