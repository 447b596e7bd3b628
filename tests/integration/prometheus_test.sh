#!/usr/bin/env bash
# prometheus_test.sh — GET /metrics on the local listener: valid text format, every process's counters merged, gauges read at scrape.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool is needed (Debian package prometheus; scripts/install-deps)"
stack_up

STATUS_OK='wagate_http_requests_total{process="wagate-status",route="/api/v1/whatsapp/status",status="200"}'
STATUS_403='wagate_http_requests_total{process="wagate-status",route="/api/v1/whatsapp/status",status="403"}'
STATUS_SECONDS='wagate_http_request_duration_seconds_count{process="wagate-status",route="/api/v1/whatsapp/status"}'
BAD_SIGNATURE='wagate_signature_failures_total{process="wagate-status",reason="invalid_signature"}'
STORED='wagate_callbacks_total{process="wagate-status",status="delivered",outcome="stored"}'
DUPLICATE='wagate_callbacks_total{process="wagate-status",status="delivered",outcome="duplicate"}'
SPOOLED='wagate_callbacks_total{process="wagate-status",status="delivered",outcome="spooled"}'

scrape() {
  SCRAPE=$(curl -s -S --noproxy '*' --max-time 10 -w '\n%{http_code}' "$WAGATE_METRICS_URL") || fail "scrape failed"
  SCRAPE_STATUS=${SCRAPE##*$'\n'}
  SCRAPE=${SCRAPE%$'\n'*}
}
# value SERIES: the sample's value in the last scrape, 0 when it is absent.
value() {
  awk -v series="$1" 'index($0, series " ") == 1 { print $NF; found = 1 } END { if (!found) print 0 }' <<<"$SCRAPE"
}
# present SERIES: the sample is in the last scrape.
present() {
  awk -v series="$1" 'index($0, series " ") == 1 { found = 1 } END { exit !found }' <<<"$SCRAPE"
}
# reaches SERIES MIN: scrapes until SERIES is at least MIN (processes publish once a second).
reaches() {
  scrape
  awk -v v="$(value "$1")" -v min="$2" 'BEGIN { exit !(v + 0 >= min + 0) }'
}
check_format() {
  local out
  out=$(promtool check metrics <<<"$SCRAPE" 2>&1) || fail "promtool check metrics ($1): $out"
  pass "promtool accepts the scrape ($1)"
}
# post_status COUNT STATUS [bad|repeat SID]: signed status callbacks for new SIDs; prints the last SID.
post_status() {
  WAGATE_RUN_DIR=$STACK_RUN_DIR python3 - "$@" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["WAGATE_SOURCE_DIR"], "tests", "integration"))
from twilio_client import Gateway, new_sid, stack_env
env = stack_env()
gw = Gateway(env)
count, status = int(sys.argv[1]), sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else ""
sid = None
for _ in range(count):
    sid = sys.argv[4] if mode == "repeat" else new_sid()
    params = [("AccountSid", env["TWILIO_ACCOUNT_SID"]), ("ApiVersion", "2010-04-01"), ("MessageSid", sid),
              ("MessageStatus", status), ("To", "whatsapp:+15005550006")]
    token = "0" * 32 if mode == "bad" else None
    code, _, body = gw.post_signed("/api/v1/whatsapp/status", params, token=token)
    want = 403 if mode == "bad" else 200
    if code != want:
        sys.exit(f"callback answered {code}, expected {want}: {body[:200]!r}")
print(sid)
EOF
}

scrape
assert_eq 200 "$SCRAPE_STATUS" "GET /metrics answers 200"
check_format "a fresh stack"
assert_eq 1 "$(value 'wagate_metrics_source_up{source="postgres"}')" "Postgres is read at scrape time"
assert_eq 1 "$(value 'wagate_metrics_source_up{source="redis"}')" "Redis is read at scrape time"

ok_before=$(value "$STATUS_OK")
forbidden_before=$(value "$STATUS_403")
seconds_before=$(value "$STATUS_SECONDS")
bad_before=$(value "$BAD_SIGNATURE")
stored_before=$(value "$STORED")
duplicate_before=$(value "$DUPLICATE")

last_sid=$(post_status 5 delivered) || fail "posting callbacks failed"
post_status 1 delivered repeat "$last_sid" >/dev/null || fail "posting a repeated callback failed"
post_status 2 delivered bad >/dev/null || fail "posting badly signed callbacks failed"
wait_for 15 "the status handlers' counts reach /metrics" reaches "$STATUS_SECONDS" $((seconds_before + 8))

assert_eq $((ok_before + 6)) "$(value "$STATUS_OK")" "answered callbacks are counted by route pattern and status"
assert_eq $((forbidden_before + 2)) "$(value "$STATUS_403")" "refused callbacks are counted with their status"
assert_eq $((seconds_before + 8)) "$(value "$STATUS_SECONDS")" "every request is in the latency histogram"
assert_eq $((bad_before + 2)) "$(value "$BAD_SIGNATURE")" "signature failures are counted by reason"
assert_eq $((stored_before + 5)) "$(value "$STORED")" "stored callbacks are counted by status and outcome"
assert_eq $((duplicate_before + 1)) "$(value "$DUPLICATE")" "a repeated callback is counted as a duplicate"
assert_contains "$SCRAPE" "# TYPE wagate_http_requests_total counter" "counters carry their TYPE"
assert_contains "$SCRAPE" "# TYPE wagate_http_request_duration_seconds histogram" "histograms carry their TYPE"
assert_contains "$SCRAPE" "# HELP wagate_callbacks_total " "families carry their HELP"
assert_eq 2 "$(grep -c '^wagate_process_start_time_seconds{process="wagate-status",pid="' <<<"$SCRAPE")" \
  "both status handler children publish (one start time each)"
check_format "after webhooks"

# A route's label is its pattern: an id in the path never becomes a label.
https_get /api/v1/whatsapp/messages/SMlabelcheck0123456789abcdef0123
wait_for 10 "the API's request count reaches /metrics" \
  reaches 'wagate_http_requests_total{process="wagate-api",route="/api/v1/whatsapp/messages/{id}",status="'"$HTTP_STATUS"'"}' 1
[[ $SCRAPE != *SMlabelcheck* ]] || fail "a raw path reached the metrics"
pass "requests are labelled by route pattern, not path"

# Gauges read at scrape time.
for series in 'wagate_send_queue_depth{priority="high"}' 'wagate_send_queue_depth{priority="normal"}' \
  'wagate_send_queue_pending{priority="normal"}' 'wagate_spool_records' 'wagate_spool_bytes' \
  'wagate_messages_unfinished{status="unknown"}' 'wagate_messages_partitioned_until_seconds'; do
  present "$series" || fail "no $series in the scrape"
done
pass "queue, spool and database gauges are in the scrape"
assert_eq 0 "$(value wagate_spool_records)" "nothing is spooled while Postgres is up"

# A send goes through the sender to the simulator: counted there; the
# simulator's callbacks for it (sent, delivered, read) come back counted too.
ok_before=$(value "$STATUS_OK")
READ='wagate_callbacks_total{process="wagate-status",status="read",outcome="stored"}'
read_before=$(value "$READ")
https_post /api/v1/whatsapp/send "{\"to\": \"+1555$(printf '%07d' $((RANDOM * 7)))\", \"content_sid\": \"HX$(openssl rand -hex 16)\"}" \
  -H "Authorization: Bearer $WAGATE_API_KEY" -H 'Content-Type: application/json'
assert_eq 202 "$HTTP_STATUS" "a send is accepted"
wait_for 20 "the sender's counts reach /metrics" reaches 'wagate_sends_total{process="wagate-sender",outcome="created"}' 1
reaches 'wagate_twilio_request_duration_seconds_count{process="wagate-sender"}' 1 ||
  fail "the request to Twilio is not in the latency histogram"
pass "the request to Twilio is in the latency histogram"
wait_for 20 "the simulator's callbacks reach /metrics" reaches "$STATUS_OK" $((ok_before + 3))
assert_eq $((read_before + 1)) "$(value "$READ")" "the simulator's read callback is counted"

# A child that dies takes nothing with it: its counts stay in the totals
# (a total that went down would read as a counter reset).
ok_before=$(value "$STATUS_OK")
victim=$(grep -o '^wagate_process_start_time_seconds{process="wagate-status",pid="[0-9]*"' <<<"$SCRAPE" | head -1 |
  grep -o '[0-9]*"$' | tr -d '"')
[[ -n $victim ]] || fail "no status handler pid in the scrape"
kill -KILL "$victim"
replaced() {
  scrape
  [[ $SCRAPE != *"process=\"wagate-status\",pid=\"$victim\""* ]] &&
    [[ $(grep -c '^wagate_process_start_time_seconds{process="wagate-status",pid="' <<<"$SCRAPE") == 2 ]]
}
wait_for 20 "multiwatch replaces the killed status handler" replaced
assert_eq "$ok_before" "$(value "$STATUS_OK")" "a killed process's counts stay in the total"
post_status 1 delivered >/dev/null || fail "posting a callback after the restart failed"
wait_for 15 "the new count reaches /metrics" reaches "$STATUS_OK" $((ok_before + 1))
assert_eq $((ok_before + 1)) "$(value "$STATUS_OK")" "counting goes on from the total"
check_format "after a restart"

# Postgres down: callbacks are spooled, and the scrape still answers and says so.
spooled_before=$(value "$SPOOLED")
stack stop postgres >&2
post_status 1 delivered >/dev/null || fail "a callback with Postgres down was not accepted"
wait_for 15 "the spooled callback reaches /metrics" reaches "$SPOOLED" $((spooled_before + 1))
assert_eq 200 "$SCRAPE_STATUS" "GET /metrics answers 200 with Postgres down"
assert_eq 0 "$(value 'wagate_metrics_source_up{source="postgres"}')" "the scrape says Postgres could not be read"
assert_eq 1 "$(value 'wagate_spool_records')" "the spooled callback shows in the spool gauge"
assert_eq 1 "$(value 'wagate_spool_appends_total{process="wagate-status",kind="status"}')" "spool appends are counted"
check_format "with Postgres down"
