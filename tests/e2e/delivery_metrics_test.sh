#!/usr/bin/env bash
# delivery_metrics_test.sh — GET /api/v1/whatsapp/delivery-metrics through nginx equals a brute-force count over messages, before and after rollups.
. "$(dirname "$0")/../integration/lib.sh"
[[ -x $WAGATE_BUILD_DIR/bin/wagate-maint ]] || fail "wagate-maint is not built in $WAGATE_BUILD_DIR"
stack_up
[[ -n ${WAGATE_API_KEY:-} ]] || fail "the stack provisioned no API key (wagate-admin key create)"
export WAGATE_RUN_DIR=$STACK_RUN_DIR
python3 "$WAGATE_SOURCE_DIR/tests/e2e/delivery_metrics_test.py" || fail "delivery metrics tests failed"
pass "delivery metrics tests"
