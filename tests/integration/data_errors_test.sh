#!/usr/bin/env bash
# data_errors_test.sh — a data error is not an outage: a record Postgres refuses is answered 400 (or
# quarantined on replay) on its own, the others of its batch are stored, nothing is spooled; NUL bytes are
# refused before storing; health says "down" with a reason code and no address when a dependency stops.
. "$(dirname "$0")/lib.sh"
stack_up
export WAGATE_RUN_DIR=$STACK_RUN_DIR
PY="$WAGATE_SOURCE_DIR/tests/integration/data_errors.py"
SPOOL="$STACK_RUN_DIR/spool"
spool_files() { find "$SPOOL" -maxdepth 1 -name 'spool-*.log' | wc -l; }

# A value the schema refuses, chosen by the test: any class-23 refusal is the
# same to the gateway as a bad value Postgres finds itself.
psql "$WAGATE_PG_DSN" -XAtq -v ON_ERROR_STOP=1 -c \
  "ALTER TABLE status_events ADD CONSTRAINT test_poison CHECK (error_message IS DISTINCT FROM 'poison') NOT VALID" ||
  fail "cannot add the test constraint"

# One poisoned callback among good ones sent at the same moment: they share
# group commits, so the refusal must not take the others down or spool them.
for round in 1 2 3; do
  out=$(python3 "$PY" batch 24) || fail "batch round $round: $out"
  assert_json "$out" '.good_ok == 24 and .good_stored == 24' "round $round: every good callback is 200 and stored"
  assert_json "$out" '.bad_status == 400 and .bad_body.error.code == "unstorable_callback" and .bad_stored == 0' \
    "round $round: the poisoned callback alone is 400 and not stored"
done
assert_eq 0 "$(spool_files)" "nothing was spooled for a data error"
grep -q 'event=status_record_refused sid=SM' "$STACK_RUN_DIR"/logs/status*.log ||
  fail "the refused callback is not logged with its MessageSid"
pass "the refused callback is logged with its MessageSid"

# NUL bytes (and invalid UTF-8) are refused for every parameter, before
# anything is stored or acknowledged; a request without a valid signature is
# still 403.
out=$(python3 "$PY" nul) || fail "nul: $out"
assert_json "$out" '.status == 400 and .status_body.error.code == "nul_byte" and .status_body.error.field == "ErrorMessage"' \
  "a callback with %00 in ErrorMessage is 400 naming it"
assert_json "$out" '.inbound == 400 and (.inbound_body | contains("ProfileName"))' \
  "an inbound message with %00 in ProfileName is 400 naming it"
assert_json "$out" '.unsigned == 403 and .stored == 0' "unsigned is still 403, and nothing was stored"
assert_eq 0 "$(spool_files)" "still nothing spooled"

# Replay: a spool file left by a dead process holding a refused record,
# damaged bytes and a payload that is no record, between good ones. Every
# good record is applied; the rest is quarantined, never dropped or retried.
good=$(python3 "$PY" spool-file "$SPOOL")
wait_for 30 "the spool file replayed" bash -c "[[ \$(find '$SPOOL' -maxdepth 1 -name 'spool-*.log' | wc -l) == 0 ]]"
# shellcheck disable=SC2086  # two SIDs
assert_eq 2 "$(python3 "$PY" events $good)" "both good spooled records are in Postgres"
kept=$(python3 "$PY" quarantined "$SPOOL")
assert_contains "$kept" '"error_message": "poison"' "the refused record is in a quarantine file"
assert_contains "$kept" "not a record" "the unreadable record is in a quarantine file"
assert_contains "$kept" "0000000000000000676172626167" "the damaged bytes are in a quarantine file"
grep -q 'event=spool_quarantined file=' "$STACK_RUN_DIR"/logs/*.log || fail "no spool_quarantined warning"
pass "the quarantine file is named in a warning"
https_get /api/v1/health
assert_json "$HTTP_BODY" '.status == "ok" and .spool.records == 0 and .spool.quarantine_files >= 1' \
  "health shows the quarantine file and an empty spool"

# A stopped dependency: "down" and a reason code, the address only in the log.
stack stop redis >/dev/null 2>&1
https_get /api/v1/health
assert_eq 503 "$HTTP_STATUS" "health is 503 with Redis stopped"
assert_json "$HTTP_BODY" '.checks.redis.status == "down" and .checks.redis.reason == "connect_failed"' \
  "redis is down with a reason code"
[[ $HTTP_BODY != *127.0.0.1* && $HTTP_BODY != *port* && $HTTP_BODY != *"$(basename "$STACK_RUN_DIR")"* ]] ||
  fail "health names an address: $HTTP_BODY"
pass "no address in the body with Redis stopped"
stack stop postgres >/dev/null 2>&1
https_get /api/v1/health
assert_json "$HTTP_BODY" '.checks.postgres.status == "down" and .checks.postgres.reason == "connect_failed"' \
  "postgres is down with a reason code"
[[ $HTTP_BODY != *127.0.0.1* && $HTTP_BODY != *port* && $HTTP_BODY != *"$(basename "$STACK_RUN_DIR")"* ]] ||
  fail "health names an address: $HTTP_BODY"
pass "no address in the body with Postgres stopped"
grep -q 'event=health_check_failed check=postgres reason=connect_failed' "$STACK_RUN_DIR"/logs/api*.log ||
  fail "the failed check is not logged"
pass "the detail of the failed check is in the log"
