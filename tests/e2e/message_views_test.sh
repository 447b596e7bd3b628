#!/usr/bin/env bash
# message_views_test.sh — the read API through nginx (message, status, list, phone metrics) and admin retry.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
[[ -n ${WAGATE_API_KEY:-} ]] || fail "the stack provisioned no API key (wagate-admin key create)"
export WAGATE_RUN_DIR=$STACK_RUN_DIR
python3 "$WAGATE_SOURCE_DIR/tests/e2e/message_views_test.py" || fail "message views tests failed"
pass "message views tests"
