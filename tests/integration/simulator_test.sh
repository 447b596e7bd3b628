#!/usr/bin/env bash
# simulator_test.sh — wagate-twilio-sim against a recording webhook receiver: API answers, signed callbacks in scenario order, retries, inbound injection.
#
# Stands alone (no Postgres, nginx or gateway): the simulator on a free port
# with a temporary accounts file, and sim_receiver.py, which records every
# POST and checks its X-Twilio-Signature independently of the C++ code.
. "$(dirname "$0")/lib.sh"

SIM_BIN=$WAGATE_BUILD_DIR/bin/wagate-twilio-sim
[[ -x $SIM_BIN ]] || fail "no $SIM_BIN: build the wagate-twilio-sim target"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wagate-sim-test.XXXXXX")
PIDS=()
cleanup() {
  local status=$? pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 && -s $WORK/sim.log ]]; then
    echo "----- simulator log (last lines) -----" >&2
    tail -n 30 "$WORK/sim.log" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

SID=AC$(openssl rand -hex 16)
TOKEN=$(openssl rand -hex 16)
printf '# accounts for simulator_test\n%s %s\n' "$SID" "$TOKEN" >"$WORK/accounts"
printf '%s\n' "$TOKEN" >"$WORK/token"

python3 "$WAGATE_SOURCE_DIR/tests/integration/sim_receiver.py" "$WORK/receiver.port" "$WORK/token" \
  2>"$WORK/receiver.log" &
PIDS+=($!)
wait_for 10 "the receiver to listen" test -s "$WORK/receiver.port"
RPORT=$(cat "$WORK/receiver.port")
RECEIVER=http://127.0.0.1:$RPORT

# Port 0: the simulator picks a free port and logs it.
"$SIM_BIN" --listen 127.0.0.1:0 --accounts "$WORK/accounts" --callback-delay-ms 20 \
  --webhook-url "$RECEIVER/inbound?src=sim" 2>"$WORK/sim.log" &
SIM_PID=$!
PIDS+=($SIM_PID)
wait_for 10 "the simulator to listen" grep -q 'event=sim_listening' "$WORK/sim.log"
SIM=http://127.0.0.1:$(grep -o 'event=sim_listening.* port=[0-9]*' "$WORK/sim.log" | grep -o '[0-9]*$')
API=$SIM/2010-04-01/Accounts/$SID
FROM=whatsapp:+14155238886

# create TO [EXTRA_CURL_ARGS...]: POST Messages.json with the account's credentials.
create() {
  local to=$1
  shift
  http_request POST "$API/Messages.json" "" -u "$SID:$TOKEN" --data-urlencode "To=$to" \
    --data-urlencode "From=$FROM" --data-urlencode "Body=hello" "$@"
}

records() { curl -s --noproxy '*' "$RECEIVER/_records"; }

# The statuses the receiver got for one MessageSid, in arrival order, space-separated.
received_statuses() {
  records | jq -r --arg sid "$1" '[.[] | select(any(.params[]; .[0] == "MessageSid" and .[1] == $sid))
    | (.params[] | select(.[0] == "MessageStatus") | .[1])] | join(" ")'
}

received_count() { records | jq --arg sid "$1" '[.[] | select(any(.params[]; .[1] == $sid))] | length'; }

callback_count_is() { [[ $(received_count "$1") == "$2" ]]; }

pending_is_zero() { [[ $(curl -s --noproxy '*' "$SIM/sim/stats" | jq .callbacks_pending) == 0 ]]; }

# ---------------------------------------------------------------- authentication
http_request POST "$API/Messages.json" "To=whatsapp:+12025550100&From=$FROM&Body=x"
assert_eq 401 "$HTTP_STATUS" "create without credentials is refused"
assert_json "$HTTP_BODY" '.code == 20003 and .status == 401 and .more_info == "https://www.twilio.com/docs/errors/20003"' \
  "401 carries Twilio's error 20003"
http_request POST "$API/Messages.json" "To=whatsapp:+12025550100&From=$FROM&Body=x" -u "$SID:wrong$TOKEN"
assert_eq 401 "$HTTP_STATUS" "create with a wrong auth token is refused"
OTHER=AC$(openssl rand -hex 16)
http_request POST "$SIM/2010-04-01/Accounts/$OTHER/Messages.json" "To=whatsapp:+12025550100&From=$FROM&Body=x" \
  -u "$SID:$TOKEN"
assert_eq 401 "$HTTP_STATUS" "credentials of one account do not open another account's path"

# ---------------------------------------------------------------- validation
create "+12025550100"
assert_eq 400 "$HTTP_STATUS" "a To without whatsapp: is refused"
assert_json "$HTTP_BODY" '.code == 21211 and .status == 400' "bad To gives 21211"
http_request POST "$API/Messages.json" "" -u "$SID:$TOKEN" --data-urlencode "To=whatsapp:+12025550100" \
  --data-urlencode "From=$FROM"
assert_json "$HTTP_BODY" '.code == 21619' "no Body, MediaUrl or ContentSid gives 21619"
create "whatsapp:+12025550111"
assert_eq 400 "$HTTP_STATUS" "the api_error_21211 scenario refuses a valid number"
assert_json "$HTTP_BODY" '.code == 21211' "api_error_21211 answers 21211"

# ---------------------------------------------------------------- 201 shape
create "whatsapp:+12025550101" --data-urlencode "StatusCallback=$RECEIVER/status"
assert_eq 201 "$HTTP_STATUS" "a valid create is answered 201"
assert_json "$HTTP_BODY" '(.sid | test("^SM[0-9a-f]{32}$")) and .status == "queued" and .account_sid == "'"$SID"'"
  and .to == "whatsapp:+12025550101" and .from == "'"$FROM"'" and .body == "hello"
  and .direction == "outbound-api" and .api_version == "2010-04-01" and .date_sent == null
  and .error_code == null and .error_message == null and .num_segments == "1" and .num_media == "0"
  and .price == null and .price_unit == "USD"
  and (.date_created | test("^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000$"))
  and .uri == "/2010-04-01/Accounts/'"$SID"'/Messages/\(.sid).json"' "the 201 body has Twilio's Message shape"
http_request POST "$API/Messages.json" "" -u "$SID:$TOKEN" --data-urlencode "To=whatsapp:+12035550101" \
  --data-urlencode "MessagingServiceSid=MG$(openssl rand -hex 16)" --data-urlencode "Body=hi"
assert_json "$HTTP_BODY" '.status == "accepted" and .from == null' "a Messaging Service send is accepted"

# ---------------------------------------------------------------- callbacks in scenario order
# expect_callbacks TO STATUSES MESSAGE: creates a message to TO with a
# StatusCallback on the receiver and checks what arrives.
expect_callbacks() {
  local to=$1 expected=$2 message=$3 sid count
  create "$to" --data-urlencode "StatusCallback=$RECEIVER/status?tenant=t1"
  assert_eq 201 "$HTTP_STATUS" "$message: created"
  sid=$(jq -r .sid <<<"$HTTP_BODY")
  count=$(wc -w <<<"$expected")
  wait_for 10 "$message: $count callbacks" callback_count_is "$sid" "$count"
  assert_eq "$expected" "$(received_statuses "$sid")" "$message: callbacks arrive in the scenario's order"
  LAST_SID=$sid
}

expect_callbacks whatsapp:+12025550100 "sent delivered read" "deliver_read"
DELIVER_READ_SID=$LAST_SID
RECORDS=$(records)
assert_json "$RECORDS" '[.[] | select(any(.params[]; .[1] == "'"$DELIVER_READ_SID"'"))] | all(.signature_ok)' \
  "every status callback is signed with the account's token over its exact URL"
assert_json "$RECORDS" '[.[] | select(any(.params[]; .[1] == "'"$DELIVER_READ_SID"'"))] |
  all(.path == "/status?tenant=t1" and .content_type == "application/x-www-form-urlencoded")' \
  "callbacks go to the StatusCallback URL, query included, form-encoded"
assert_json "$RECORDS" '[.[] | select(any(.params[]; .[1] == "'"$DELIVER_READ_SID"'"))][0].params | map(.[0]) | sort ==
  ["AccountSid","ApiVersion","ChannelInstallSid","ChannelPrefix","ChannelToAddress","From","MessageSid",
   "MessageStatus","SmsSid","SmsStatus","To"]' "a status callback carries Twilio's WhatsApp parameter set"
assert_json "$RECORDS" '[.[] | select(any(.params[]; .[1] == "'"$DELIVER_READ_SID"'"))][0].params | map({key: .[0], value: .[1]}) | from_entries |
  .ChannelPrefix == "whatsapp" and .ChannelToAddress == "+12025550100" and .To == "whatsapp:+12025550100"
  and .AccountSid == "'"$SID"'" and .SmsSid == .MessageSid and .ApiVersion == "2010-04-01"' \
  "status callback parameter values"

expect_callbacks whatsapp:+12025550102 "read delivered sent" "out_of_order"
OUT_OF_ORDER_SID=$LAST_SID
expect_callbacks whatsapp:+12025550103 "sent sent delivered delivered read read" "duplicate"
assert_json "$(records)" '[.[] | select(any(.params[]; .[1] == "'"$LAST_SID"'"))] | .[0].idempotency_token == .[1].idempotency_token
  and .[0].idempotency_token != .[2].idempotency_token' "a repeated callback carries the same idempotency token"
expect_callbacks whatsapp:+12025550104 "delivered read" "skip_sent"
expect_callbacks whatsapp:+12025550105 "failed" "fail_63016"
assert_json "$(records)" '[.[] | select(any(.params[]; .[1] == "'"$LAST_SID"'"))][0].params | map({key: .[0], value: .[1]}) | from_entries |
  .ErrorCode == "63016" and (.ErrorMessage | test("outside the allowed window"))' "a failure carries ErrorCode and ErrorMessage"
expect_callbacks whatsapp:+12025550110 "undelivered failed" "undelivered_then_failed"

# ---------------------------------------------------------------- fetch reflects the final status
http_request GET "$API/Messages/$DELIVER_READ_SID.json" "" -u "$SID:$TOKEN"
assert_eq 200 "$HTTP_STATUS" "fetch by SID"
assert_json "$HTTP_BODY" '.status == "read" and .date_sent != null' "fetch shows deliver_read's final status"
http_request GET "$API/Messages/$OUT_OF_ORDER_SID.json" "" -u "$SID:$TOKEN"
assert_json "$HTTP_BODY" '.status == "read"' "a late sent does not move a read message back"
http_request GET "$API/Messages/$LAST_SID.json" "" -u "$SID:$TOKEN"
assert_json "$HTTP_BODY" '.status == "failed" and .error_code == 30003' "fetch shows the failure and its code"
http_request GET "$API/Messages/SM$(openssl rand -hex 16).json" "" -u "$SID:$TOKEN"
assert_eq 404 "$HTTP_STATUS" "fetch of an unknown SID"
assert_json "$HTTP_BODY" '.code == 20404' "unknown SID gives 20404"
http_request GET "$API/Messages/$DELIVER_READ_SID.json" ""
assert_eq 401 "$HTTP_STATUS" "fetch needs credentials"

# ---------------------------------------------------------------- list by To
TODAY=$(date -u +%F)
http_request GET "$API/Messages.json?To=whatsapp%3A%2B12025550102&DateSent%3E=$TODAY" "" -u "$SID:$TOKEN"
assert_eq 200 "$HTTP_STATUS" "list messages"
assert_json "$HTTP_BODY" '(.messages | length) == 1 and .messages[0].sid == "'"$OUT_OF_ORDER_SID"'"
  and .page == 0 and .page_size == 50 and .next_page_uri == null' "list filters by To and DateSent, in Twilio's page shape"
http_request GET "$API/Messages.json?To=whatsapp%3A%2B12025550102&DateSent%3E=2099-01-01" "" -u "$SID:$TOKEN"
assert_json "$HTTP_BODY" '(.messages | length) == 0' "a DateSent bound after the message finds nothing"

# ---------------------------------------------------------------- retryable API errors
for attempt in 1 2; do
  create whatsapp:+12025550112
  assert_eq 429 "$HTTP_STATUS" "rate_limited: attempt $attempt is answered 429"
  assert_json "$HTTP_BODY" '.code == 20429' "rate_limited: attempt $attempt carries 20429"
done
create whatsapp:+12025550112
assert_eq 201 "$HTTP_STATUS" "rate_limited: the third attempt creates the message"
create whatsapp:+12025550113
assert_eq 503 "$HTTP_STATUS" "unavailable_once: the first attempt is answered 503"
assert_json "$HTTP_BODY" '.code == 20503' "unavailable_once carries 20503"
create whatsapp:+12025550113
assert_eq 201 "$HTTP_STATUS" "unavailable_once: the retry creates the message"

# ---------------------------------------------------------------- timeout: created, answer held back
create whatsapp:+12025550114 --max-time 1 --data-urlencode "StatusCallback=$RECEIVER/status"
assert_eq 000 "$HTTP_STATUS" "timeout: the client gives up before the answer"
http_request GET "$SIM/sim/messages?to=whatsapp%3A%2B12025550114" ""
assert_json "$HTTP_BODY" '.count == 1 and .messages[0].http_status == 201 and (.messages[0].sid | test("^SM"))' \
  "timeout: the message was created all the same"
TIMEOUT_SID=$(jq -r '.messages[0].sid' <<<"$HTTP_BODY")
wait_for 10 "timeout: callbacks" callback_count_is "$TIMEOUT_SID" 3
http_request GET "$API/Messages/$TIMEOUT_SID.json" "" -u "$SID:$TOKEN"
assert_json "$HTTP_BODY" '.status == "read"' "timeout: fetching by SID resolves the unknown outcome"

# ---------------------------------------------------------------- delivery failures
create whatsapp:+12025550101 --data-urlencode "StatusCallback=$RECEIVER/fail500"
FAIL_SID=$(jq -r .sid <<<"$HTTP_BODY")
wait_for 10 "callbacks to a failing receiver" callback_count_is "$FAIL_SID" 2
wait_for 10 "callbacks to a failing receiver to settle" pending_is_zero
assert_eq 2 "$(received_count "$FAIL_SID")" "a callback answered 500 is not retried"
http_request GET "$SIM/sim/callbacks?sid=$FAIL_SID" ""
assert_json "$HTTP_BODY" '[.callbacks[].http_status] == [500, 500]' "the simulator records each delivery's HTTP status"

# A port nothing listens on: a connection failure is retried once.
CLOSED_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
create whatsapp:+12025550105 --data-urlencode "StatusCallback=http://127.0.0.1:$CLOSED_PORT/status"
CLOSED_SID=$(jq -r .sid <<<"$HTTP_BODY")
wait_for 10 "a callback to a closed port to settle" pending_is_zero
http_request GET "$SIM/sim/callbacks?sid=$CLOSED_SID" ""
assert_json "$HTTP_BODY" '[.callbacks[] | [.attempt, .http_status]] == [[1, 0], [2, 0]] and (.callbacks[0].error | length > 0)' \
  "a connection failure is retried exactly once"

# ---------------------------------------------------------------- inbound injection
http_request POST "$SIM/sim/inbound" '{"from": "whatsapp:+447700900123", "to": "whatsapp:+14155238886", "body": "hi there", "profile_name": "Ann"}' \
  -H 'Content-Type: application/json'
assert_eq 200 "$HTTP_STATUS" "/sim/inbound posts the webhook"
assert_json "$HTTP_BODY" '.status == 200 and (.message_sid | test("^SM[0-9a-f]{32}$"))' "/sim/inbound reports the gateway's answer"
INBOUND_SID=$(jq -r .message_sid <<<"$HTTP_BODY")
RECORDS=$(records)
assert_json "$RECORDS" '[.[] | select(.path == "/inbound?src=sim")] | length == 1 and .[0].signature_ok' \
  "the inbound webhook goes to --webhook-url, signed"
assert_json "$RECORDS" '[.[] | select(.path == "/inbound?src=sim")][0].params | map({key: .[0], value: .[1]}) | from_entries |
  .MessageSid == "'"$INBOUND_SID"'" and .SmsMessageSid == .MessageSid and .SmsSid == .MessageSid
  and .AccountSid == "'"$SID"'" and .From == "whatsapp:+447700900123" and .To == "whatsapp:+14155238886"
  and .Body == "hi there" and .NumMedia == "0" and .NumSegments == "1" and .ProfileName == "Ann"
  and .WaId == "447700900123" and .SmsStatus == "received" and .ApiVersion == "2010-04-01"' \
  "the inbound webhook carries Twilio's parameters"
http_request POST "$SIM/sim/inbound" '{"from": "whatsapp:+447700900123"}'
assert_eq 400 "$HTTP_STATUS" "/sim/inbound without a to is refused"

# ---------------------------------------------------------------- stats
http_request GET "$SIM/sim/stats" ""
# 401: 3 refused creates; 400: bad To, no content, api_error_21211; 429: 2; 503: 1;
# 201: shape, service, 6 callback scenarios, rate_limited, unavailable_once, timeout, fail500, closed port.
assert_json "$HTTP_BODY" '.creates_by_status == {"201": 13, "400": 3, "401": 3, "429": 2, "503": 1} and .creates == 22
  and .messages == 13' "/sim/stats counts every create by its answer"
SENT=$(records | jq '[.[] | select(.path | startswith("/status"))] | length')
assert_json "$HTTP_BODY" ".callbacks_sent == $SENT and .callbacks_failed == 4 and .inbound_sent == 1" \
  "/sim/stats counts callbacks delivered and failed"

# ---------------------------------------------------------------- HTTP robustness
GARBAGE=$(printf 'HELLO\r\n\r\n' | timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
print(s.recv(200).decode().split("\r\n")[0])' "${SIM##*:}")
assert_eq "HTTP/1.1 400 Bad Request" "$GARBAGE" "a garbage request line gets 400"
http_request POST "$API/Messages.json" "" -u "$SID:$TOKEN" -H 'Content-Length: 5000000' -H 'Expect:'
assert_eq 413 "$HTTP_STATUS" "a body over the limit gets 413"

# ---------------------------------------------------------------- reset and shutdown
http_request POST "$SIM/sim/reset" ""
http_request GET "$SIM/sim/stats" ""
assert_json "$HTTP_BODY" '.creates == 0 and .messages == 0' "/sim/reset forgets everything"
kill -TERM "$SIM_PID"
status=0
wait "$SIM_PID" || status=$?
assert_eq 0 "$status" "SIGTERM stops the simulator cleanly"
grep -q 'event=sim_stopped' "$WORK/sim.log" || fail "no sim_stopped line in the log"
