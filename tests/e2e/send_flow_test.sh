#!/usr/bin/env bash
# send_flow_test.sh — send → queue → sender → simulator → callbacks, every failure path, crashes.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
WAGATE_RUN_DIR=$STACK_RUN_DIR python3 "$WAGATE_SOURCE_DIR/tests/e2e/send_flow_test.py" || fail "send flow tests failed"
pass "send flow"
