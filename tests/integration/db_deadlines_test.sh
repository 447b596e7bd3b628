#!/usr/bin/env bash
# db_deadlines_test.sh — a Postgres that accepts connections but never answers (every process SIGSTOPped)
# cannot hold a webhook past 2 s: each is answered 200 and spooled, and stored exactly once after SIGCONT;
# an API read under it is answered 503 in bounded time, and a read slower than api_statement_timeout_ms is
# answered 503 query_timeout.
. "$(dirname "$0")/lib.sh"
stack_up
export WAGATE_RUN_DIR=$STACK_RUN_DIR
PY="$WAGATE_SOURCE_DIR/tests/integration/db_deadlines.py"
DURABILITY="$WAGATE_SOURCE_DIR/tests/integration/durability.py"
STATUS_N=8
INBOUND_N=2
BOUND=2.0  # Twilio waits 15 s; we promise an answer within 2 s either way

psql_stack() { psql "$WAGATE_PG_DSN" -XAt -v ON_ERROR_STOP=1 -c "$1"; }

# Only this stack's Postgres: the postmaster named by its own postmaster.pid,
# and that postmaster's children. Other tests run their own stacks meanwhile.
PGDATA_REAL=$(readlink -f "$STACK_RUN_DIR/pg")/data
STOPPED=()
stop_postgres() {
  local postmaster
  postmaster=$(head -n 1 "$PGDATA_REAL/postmaster.pid")
  [[ $(readlink -f "/proc/$postmaster/cwd" 2>/dev/null) == "$PGDATA_REAL" ]] ||
    fail "postmaster $postmaster does not run in $PGDATA_REAL"
  mapfile -t STOPPED < <(echo "$postmaster"; pgrep -P "$postmaster")
  kill -STOP "${STOPPED[@]}"
}
resume_postgres() {
  ((${#STOPPED[@]} == 0)) || kill -CONT "${STOPPED[@]}" 2>/dev/null || true
  STOPPED=()
}
# Whatever way the test ends, Postgres runs again so the stack can be torn down.
trap 'rc=$?; resume_postgres; (exit $rc); stack_cleanup' EXIT

# post_webhook KIND TAG I OUT: one signed webhook; writes "status time_total" to OUT.
post_webhook() {
  local lines
  mapfile -t lines < <(python3 "$PY" webhook "$1" "$2" "$3")
  curl -s -o /dev/null --noproxy '*' --max-time 30 --cacert "$WAGATE_CA_CERT" -w '%{http_code} %{time_total}\n' \
    -H "Content-Type: application/x-www-form-urlencoded" -H "X-Twilio-Signature: ${lines[1]}" \
    --data-binary "${lines[2]}" "$WAGATE_URL${lines[0]}" >"$4" || echo "000 30" >"$4"
}

# post_round KIND TAG FROM COUNT: COUNT webhooks at once; each must be 200 within BOUND.
post_round() {
  local kind=$1 tag=$2 from=$3 count=$4 i out=$STACK_RUN_DIR/answers slowest=0
  mkdir -p "$out"
  for ((i = from; i < from + count; i++)); do post_webhook "$kind" "$tag" "$i" "$out/$kind-$i" & done
  wait
  for ((i = from; i < from + count; i++)); do
    read -r code took <"$out/$kind-$i"
    [[ $code == 200 ]] || fail "$kind webhook $i under a stopped Postgres: HTTP $code after ${took}s"
    awk -v t="$took" -v b="$BOUND" 'BEGIN { exit !(t < b) }' ||
      fail "$kind webhook $i under a stopped Postgres answered after ${took}s, more than ${BOUND}s"
    slowest=$(awk -v a="$slowest" -v b="$took" 'BEGIN { print (b > a ? b : a) }')
  done
  pass "$count $kind webhooks ($tag) answered 200 within ${BOUND}s under a stopped Postgres (slowest ${slowest}s)"
}

# Warm-up while everything runs: the tenant cache and snapshot, and live
# connections in the handlers, which the stop then leaves hanging.
python3 "$DURABILITY" post-status 2 warmup >/dev/null || fail "warm-up callbacks were not accepted"
python3 "$DURABILITY" post-inbound 2 warmup >/dev/null || fail "warm-up inbound messages were not accepted"
https_get "/api/v1/whatsapp/messages?limit=1" -H "Authorization: Bearer $WAGATE_API_KEY"
assert_eq 200 "$HTTP_STATUS" "an API read answers while Postgres runs"
spooled_before=$(find "$STACK_RUN_DIR/spool" -name 'spool-*' | wc -l)
assert_eq 0 "$spooled_before" "nothing is spooled before the stop"

stop_postgres
pass "stopped ${#STOPPED[@]} processes of this stack's Postgres"

# First round: the committers' and handlers' connections were live and now
# hang mid-statement. Second round: connecting itself gets no answer.
post_round status outage 0 $((STATUS_N / 2))
post_round inbound outagein 0 1
post_round status outage $((STATUS_N / 2)) $((STATUS_N / 2))
post_round inbound outagein 1 $((INBOUND_N - 1))

start=$SECONDS
https_get "/api/v1/whatsapp/messages?limit=1" -H "Authorization: Bearer $WAGATE_API_KEY" --max-time 20
took=$((SECONDS - start))
assert_eq 503 "$HTTP_STATUS" "an API read under a stopped Postgres is answered 503"
assert_json "$HTTP_BODY" '.error.code == "database_unavailable" or .error.code == "query_timeout"' \
  "the 503 names the database"
((took <= 8)) || fail "the API read took ${took}s, more than api_statement_timeout_ms + db_timeout_ms + 2 s"
pass "the API read was answered in ${took}s"

status_prefix=$(python3 "$PY" sid-prefix outage)
inbound_prefix=$(python3 "$PY" sid-prefix outagein)
records=$(find "$STACK_RUN_DIR/spool" -name 'spool-*' -exec cat {} + |
  grep -o -a -E "\"sid\": ?\"($status_prefix|$inbound_prefix)" | wc -l)
((records >= STATUS_N + INBOUND_N)) ||
  fail "the spool holds $records of the $((STATUS_N + INBOUND_N)) webhooks answered during the stop"
pass "the spool holds every webhook answered during the stop ($records records)"

resume_postgres
count_stored() {
  psql_stack "SELECT (SELECT count(*) FROM status_events WHERE message_sid LIKE '$status_prefix%')
                || '/' || (SELECT count(*) FROM messages WHERE direction = 'inbound'
                           AND message_sid LIKE '$inbound_prefix%')"
}
stored_is() { [[ $(count_stored) == "$1" ]]; }
wait_for 60 "the spooled webhooks replayed into Postgres" stored_is "$STATUS_N/$INBOUND_N"
wait_for 30 "spool emptied" bash -c "[[ -z \$(find '$STACK_RUN_DIR/spool' -name 'spool-*') ]]"
assert_eq "$STATUS_N/$INBOUND_N" "$(count_stored)" "every webhook is in Postgres exactly once after SIGCONT"
assert_eq 0 "$(psql_stack "SELECT count(*) FROM (SELECT message_sid FROM messages
                             WHERE message_sid LIKE '$inbound_prefix%' GROUP BY message_sid HAVING count(*) > 1) d")" \
  "no inbound message is stored twice"

# A read slower than api_statement_timeout_ms (5 s by default): the server
# cancels it and the API names it. The lock holder gives up on its own.
psql_stack "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(9); COMMIT" >/dev/null &
locker=$!
sleep 1
https_get "/api/v1/whatsapp/messages?limit=1" -H "Authorization: Bearer $WAGATE_API_KEY" --max-time 20
wait "$locker" || true
assert_eq 503 "$HTTP_STATUS" "a read slower than api_statement_timeout_ms is answered 503"
assert_json "$HTTP_BODY" '.error.code == "query_timeout"' "the 503 says query_timeout"
https_get "/api/v1/whatsapp/messages?limit=1" -H "Authorization: Bearer $WAGATE_API_KEY"
assert_eq 200 "$HTTP_STATUS" "the API answers reads again once the lock is gone"
