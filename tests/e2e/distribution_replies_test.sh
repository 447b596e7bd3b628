#!/usr/bin/env bash
# distribution_replies_test.sh — replies to a distribution through signed inbound webhooks, on a real stack.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
[[ -n ${WAGATE_API_KEY:-} ]] || fail "the stack provisioned no API key (wagate-admin key create)"
export WAGATE_RUN_DIR=$STACK_RUN_DIR
python3 "$WAGATE_SOURCE_DIR/tests/e2e/distribution_replies_test.py" || fail "distribution replies tests failed"
pass "distribution replies tests"
