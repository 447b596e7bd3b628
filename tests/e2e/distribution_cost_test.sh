#!/usr/bin/env bash
# distribution_cost_test.sh — prices fetched from the simulator by wagate-maint's price job, a distribution's cost and estimate.
. "$(dirname "$0")/../integration/lib.sh"
# Priced 6 s after the final status: long enough to see the null first,
# short enough for a quick test.
export WAGATE_SIM_PRICE_DELAY_MS=6000
stack_up
WAGATE_RUN_DIR=$STACK_RUN_DIR python3 "$WAGATE_SOURCE_DIR/tests/e2e/distribution_cost_test.py" ||
  fail "distribution cost tests failed"
pass "distribution cost"
