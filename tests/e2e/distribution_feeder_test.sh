#!/usr/bin/env bash
# distribution_feeder_test.sh — distributions sent through the real stack: pacing, windows, pause/resume/cancel, kill -9.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
WAGATE_RUN_DIR=$STACK_RUN_DIR python3 "$WAGATE_SOURCE_DIR/tests/e2e/distribution_feeder_test.py" ||
  fail "distribution feeder tests failed"
pass "distribution feeder"
