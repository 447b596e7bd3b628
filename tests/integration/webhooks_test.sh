#!/usr/bin/env bash
# webhooks_test.sh — Twilio's webhooks end to end through nginx: signatures, bad input, dedup, forward-only, rotation.
. "$(dirname "$0")/lib.sh"
stack_up
WAGATE_RUN_DIR=$STACK_RUN_DIR python3 "$WAGATE_SOURCE_DIR/tests/integration/webhooks_test.py" ||
  fail "webhook tests failed"
pass "webhook tests"
