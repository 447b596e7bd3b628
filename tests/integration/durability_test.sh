#!/usr/bin/env bash
# durability_test.sh — invariant 1: with Postgres down every signed webhook is answered 200, spooled,
# survives kill -9 of the handlers, and lands in Postgres exactly once when it is back.
. "$(dirname "$0")/lib.sh"
stack_up
export WAGATE_RUN_DIR=$STACK_RUN_DIR
N=60
PY="$WAGATE_SOURCE_DIR/tests/integration/durability.py"

# A first callback while everything is up: the normal path, and what the
# handlers' tenant snapshot is made from.
python3 "$PY" post-status 1 warmup >/dev/null || fail "warm-up callback was not accepted"

stack stop postgres >/dev/null 2>&1
https_get /api/v1/health
assert_eq 503 "$HTTP_STATUS" "health is 503 with Postgres stopped"

out=$(python3 "$PY" post-status "$N" outage) || fail "callbacks during the outage: $out"
assert_eq "$N/$N" "$out" "every callback answered 200 while Postgres was down"
out=$(python3 "$PY" post-inbound 5 outage) || fail "inbound during the outage: $out"
assert_eq "5/5" "$out" "every inbound message answered 200 while Postgres was down"

https_get /api/v1/health
assert_json "$HTTP_BODY" '.spool.records >= 65' "health shows the spooled records"

# kill -9 of every handler process: the spool is on disk and fsynced. Only
# this stack's (their command line names its config): other tests run their
# own stacks from the same build at the same time.
pkill -KILL -f "wagate-status --config $WAGATE_CONFIG" || fail "no wagate-status process of this stack to kill"
pkill -KILL -f "wagate-inbound --config $WAGATE_CONFIG" || fail "no wagate-inbound process of this stack to kill"

stack up >/dev/null 2>&1 || fail "stack up after the outage failed"
wait_for 60 "spooled callbacks replayed into Postgres" \
  bash -c "[[ \$(python3 '$PY' count outage) == '$((N * 3))/5' ]]"
assert_eq "$((N * 3))/5" "$(python3 "$PY" count outage)" "all callbacks and messages are in Postgres exactly once"
wait_for 30 "spool emptied" bash -c "[[ -z \$(ls '$STACK_RUN_DIR/spool' | grep '^spool-') ]]"
https_get /api/v1/health
assert_json "$HTTP_BODY" '.status == "ok" and .spool.records == 0' "health is ok and the spool is empty again"
