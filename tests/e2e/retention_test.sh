#!/usr/bin/env bash
# retention_test.sh — wagate-maint's retention job: old months archived and dropped by partition, history follows, the rest untouched.
. "$(dirname "$0")/../integration/lib.sh"
stack_up
command -v psql >/dev/null || fail "psql is needed"

sql() { psql "$WAGATE_PG_DSN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# retention_days=40 puts the boundary at the start of last month or the one
# before, depending on today's date: the months 3 to 6 back are always
# older, last month and this one never are.
maint() { # maint RETENTION_DAYS ARCHIVE_DIR
  WAGATE_RETENTION_DAYS=$1 WAGATE_ARCHIVE_DIR=$2 \
    "$WAGATE_BUILD_DIR/bin/wagate-maint" run --once --job retention --config "$WAGATE_CONFIG"
}
month() { # month OFFSET -> YYYY_MM of the UTC month OFFSET months from this one
  sql "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '$1 month', 'YYYY_MM')"
}
month_start() { # month_start OFFSET -> 'YYYY-MM-01 00:00:00+00'
  sql "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '$1 month', 'YYYY-MM-DD') || ' 00:00:00+00'"
}
exists() { [[ $(sql "SELECT to_regclass('$1') IS NOT NULL") == t ]]; }
rollup() { "$WAGATE_BUILD_DIR/bin/wagate-maint" run --once --job rollup --config "$WAGATE_CONFIG" >/dev/null; }
rollup_rows_before() { # rollup_rows_before OFFSET -> rows of every delivery-metrics rollup table before that month
  local start
  start=$(month_start "$1")
  sql "SELECT (SELECT count(*) FROM delivery_rollup_counts WHERE period_start < '$start')
            + (SELECT count(*) FROM delivery_rollup_statuses WHERE period_start < '$start')"
}
metrics_messages() { # metrics_messages OFFSET -> messages delivery-metrics counts in the first 20 days of that month
  local start
  start=$(sql "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '$1 month', 'YYYY-MM-DD')")
  curl -sf --cacert "$WAGATE_CA_CERT" -H "Authorization: Bearer $WAGATE_API_KEY" \
    "$WAGATE_URL/api/v1/whatsapp/delivery-metrics?from=${start}T00:00:00Z&to=$(date -u -d "$start + 20 days" +%Y-%m-%d)T00:00:00Z" |
    jq .messages
}

TENANT=$(sql "SELECT tenant_id FROM tenants ORDER BY tenant_id LIMIT 1")
[[ -n $TENANT ]] || fail "the stack provisioned no tenant"

# add_month OFFSET COUNT: COUNT delivered messages created in that month,
# each with its SID indexed and two callbacks (sent; delivered, received now:
# a late event of an old message must still go with it).
add_month() {
  local start
  start=$(month_start "$1")
  sql "
    INSERT INTO messages (tenant_id, created_at, direction, message_sid, to_addr, body, status, status_rank)
    SELECT $TENANT, '$start'::timestamptz + interval '3 days' + g * interval '1 hour', 'outbound',
           'SM' || md5('$start' || g), 'whatsapp:+15550001' || g, 'body ' || g, 'delivered', 80
      FROM generate_series(1, $2) g;
    INSERT INTO message_index (message_sid, tenant_id, message_id, created_at)
    SELECT message_sid, tenant_id, id, created_at FROM messages
     WHERE created_at >= '$start'::timestamptz AND created_at < '$start'::timestamptz + interval '1 month';
    INSERT INTO status_events (tenant_id, message_sid, status, received_at, applied)
    SELECT tenant_id, message_sid, s.status, CASE s.status WHEN 'sent' THEN created_at ELSE now() END, true
      FROM messages, (VALUES ('sent'), ('delivered')) s(status)
     WHERE created_at >= '$start'::timestamptz AND created_at < '$start'::timestamptz + interval '1 month';"
}
count_month() { # rows of messages created in the month OFFSET
  local start
  start=$(month_start "$1")
  sql "SELECT count(*) FROM messages WHERE created_at >= '$start' AND created_at < '$start'::timestamptz + interval '1 month'"
}
history_of_month() { # "index_rows events" of the SIDs add_month made for the month OFFSET
  local start
  start=$(month_start "$1")
  sql "SELECT (SELECT count(*) FROM message_index WHERE message_sid IN (SELECT 'SM' || md5('$start' || g) FROM generate_series(1, 20) g)) || ' ' ||
              (SELECT count(*) FROM status_events WHERE message_sid IN (SELECT 'SM' || md5('$start' || g) FROM generate_series(1, 20) g))"
}

# Months -4 and -3 get partitions; month -5 has none, so its rows land in
# messages_default. Last month and this one exist from the migration.
sql "SELECT wagate_ensure_message_partitions((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '4 months')::date, 2)" >/dev/null
add_month -5 3
add_month -4 4
add_month -3 5
add_month -1 6
add_month 0 7
assert_eq 3 "$(sql "SELECT count(*) FROM messages_default")" "month -5 waits in messages_default"
OLD_ORPHAN="SM$(printf 'a%.0s' {1..32})"
NEW_ORPHAN="SM$(printf 'b%.0s' {1..32})"
sql "INSERT INTO status_events (tenant_id, message_sid, status, received_at)
     VALUES ($TENANT, '$OLD_ORPHAN', 'sent', '$(month_start -4)'::timestamptz + interval '5 days'),
            ($TENANT, '$NEW_ORPHAN', 'sent', now())"
sql "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, state, expires_at)
     VALUES ($TENANT, 'retention-expired', '\\x00', 'in_flight', now() - interval '1 hour'),
            ($TENANT, 'retention-live', '\\x00', 'in_flight', now() + interval '1 hour')"
EVENTS_BEFORE=$(sql "SELECT count(*) FROM status_events")
# The delivery metrics count the old months until they are dropped.
rollup
assert_eq 4 "$(metrics_messages -4)" "delivery-metrics counts month -4 before retention"
[[ $(rollup_rows_before -2) -gt 0 ]] || fail "the rollup has no rows of the old months"
# The migration made partitions up to three months ahead; the job must make
# a missing one again.
sql "DROP TABLE messages_$(month 3)"

ARCHIVE=$STACK_RUN_DIR/archive
maint 40 "$ARCHIVE" || fail "wagate-maint run --once --job retention failed"
pass "retention ran"

for offset in -5 -4 -3; do
  m=$(month "$offset")
  exists "messages_$m" && fail "partition messages_$m is still there"
  assert_eq 0 "$(count_month "$offset")" "no message of month $offset ($m) is left"
  assert_eq "0 0" "$(history_of_month "$offset")" "message_index and status_events of month $offset are gone"
done
assert_eq 0 "$(sql "SELECT count(*) FROM messages_default")" "the old rows left messages_default"
assert_eq 0 "$(rollup_rows_before -2)" "the delivery-metrics rollup of the dropped months is gone"
assert_eq 0 "$(metrics_messages -4)" "delivery-metrics no longer counts a dropped month"
assert_eq 6 "$(metrics_messages -1)" "delivery-metrics still counts last month"
exists "messages_$(month -1)" || fail "last month's partition was dropped"
exists "messages_$(month 0)" || fail "this month's partition was dropped"
assert_eq 6 "$(count_month -1)" "last month's messages are untouched"
assert_eq 7 "$(count_month 0)" "this month's messages are untouched"
assert_eq "6 12" "$(history_of_month -1)" "last month's index rows and events are untouched"
assert_eq "7 14" "$(history_of_month 0)" "this month's index rows and events are untouched"
assert_eq "0 1" "$(sql "SELECT count(*) FILTER (WHERE message_sid = '$OLD_ORPHAN') || ' ' || count(*) FILTER (WHERE message_sid = '$NEW_ORPHAN') FROM status_events")" \
  "an old callback without a message is deleted, a recent one kept"
assert_eq $((EVENTS_BEFORE - 24 - 1)) "$(sql "SELECT count(*) FROM status_events")" "only the old events are deleted"
assert_eq "retention-live" "$(sql "SELECT string_agg(idem_key, ',') FROM idempotency_keys WHERE idem_key LIKE 'retention-%'")" \
  "expired idempotency keys are deleted, live ones kept"
for offset in 1 2 3; do
  exists "messages_$(month "$offset")" || fail "the partition of month +$offset was not created"
done
pass "the months ahead have their partitions"

# One archive file per dropped month, one line per message, each with its history.
files=$(cd "$ARCHIVE" && ls)
assert_eq "$(printf 'messages_%s.jsonl\n' "$(month -5)" "$(month -4)" "$(month -3)")" "$files" "one archive per dropped month"
for pair in "-5 3" "-4 4" "-3 5"; do
  read -r offset rows <<<"$pair"
  file=$ARCHIVE/messages_$(month "$offset").jsonl
  assert_eq "$rows" "$(wc -l <"$file")" "archive of month $offset has a line per message"
  assert_eq "$rows" "$(jq -s '[.[] | select(.tenant_id == '"$TENANT"' and (.events | length) == 2
                                 and (.events | map(.status) | sort) == ["delivered", "sent"])] | length' "$file")" \
    "archive of month $offset has each message with its two events"
done
assert_eq 600 "$(stat -c %a "$ARCHIVE/messages_$(month -4).jsonl")" "archives are readable by their owner only"

# Again: nothing more to do, nothing archived twice.
maint 40 "$ARCHIVE" || fail "second retention run failed"
assert_eq 3 "$(find "$ARCHIVE" -type f | wc -l)" "a second run archives nothing"
assert_eq 13 "$(sql "SELECT count(*) FROM messages")" "a second run drops nothing"

# A run that stopped after detaching a month (crash, lock timeout) is
# finished by the next; without archive_dir nothing is written.
sql "SELECT wagate_ensure_message_partitions((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '6 months')::date, 1)" >/dev/null
add_month -6 2
rollup
[[ $(rollup_rows_before -5) -gt 0 ]] || fail "the rollup has no rows of month -6"
sql "ALTER TABLE messages DETACH PARTITION messages_$(month -6)"
maint 40 "" || fail "retention without archive_dir failed"
assert_eq 0 "$(rollup_rows_before -5)" "the rollup of a month detached by hand goes when it is dropped"
exists "messages_$(month -6)" && fail "the detached month -6 was not dropped"
assert_eq "0 0" "$(history_of_month -6)" "the detached month's history is gone"
assert_eq 3 "$(find "$ARCHIVE" -type f | wc -l)" "without archive_dir nothing is archived"

# The maintenance runs have exited; their counts stay in the merged metrics.
HTTP_BODY=$(curl -s --noproxy '*' --max-time 10 "$WAGATE_METRICS_URL")
assert_contains "$HTTP_BODY" 'wagate_retention_dropped_partitions_total{process="wagate-maint"} 4' \
  "dropped partitions are counted in /metrics"
assert_contains "$HTTP_BODY" 'wagate_retention_archived_rows_total{process="wagate-maint"} 12' \
  "archived messages are counted in /metrics"
