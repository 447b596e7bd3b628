#!/usr/bin/env bash
# send_api_test.sh — POST /api/v1/whatsapp/send through nginx: keys, validation, WhatsApp rules, idempotency, queue.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
[[ -n ${WAGATE_API_KEY:-} ]] || fail "the stack provisioned no API key (wagate-admin key create)"
export WAGATE_RUN_DIR=$STACK_RUN_DIR
python3 "$WAGATE_SOURCE_DIR/tests/e2e/send_api_test.py" || fail "send API tests failed"
pass "send API tests"

# A send accepted while Redis is down is still answered 202: the row is
# committed and the sweeper re-queues it.
stack stop redis >&2
SEND_TEST_REDIS_STOPPED=1 python3 "$WAGATE_SOURCE_DIR/tests/e2e/send_api_test.py" RedisOutage ||
  fail "send API tests with Redis down failed"
pass "send accepted with Redis down"
