#!/usr/bin/env bash
# doctor_test.sh — wagate-admin doctor against the stack's tenant: a good signature, a scheme swap seen in a real 403, an unknown AccountSid.
. "$(dirname "$0")/lib.sh"
stack_up
[[ -n $TWILIO_ACCOUNT_SID && -n $TWILIO_AUTH_TOKEN ]] || fail "the stack has no provisioned tenant"

ADMIN=("$WAGATE_BUILD_DIR/bin/wagate-admin" --config "$WAGATE_CONFIG")
STATUS_URL=$WAGATE_URL/api/v1/whatsapp/status
HTTP_STATUS_URL=http://${STATUS_URL#https://}
SID=SM$(openssl rand -hex 16)

# A status callback as Twilio posts it: the body percent-encoded, the
# signature over the URL + every name and decoded value in byte order.
BODY="AccountSid=$TWILIO_ACCOUNT_SID&ApiVersion=2010-04-01&From=whatsapp%3A%2B14155238886"
BODY+="&MessageSid=$SID&MessageStatus=sent&To=whatsapp%3A%2B15005550006"
SIGNED_PARAMS="AccountSid${TWILIO_ACCOUNT_SID}ApiVersion2010-04-01Fromwhatsapp:+14155238886"
SIGNED_PARAMS+="MessageSid${SID}MessageStatussentTowhatsapp:+15005550006"
sign() { printf '%s' "$1$SIGNED_PARAMS" | openssl dgst -sha1 -hmac "$TWILIO_AUTH_TOKEN" -binary | base64; }
GOOD_SIGNATURE=$(sign "$STATUS_URL")
HTTP_SIGNATURE=$(sign "$HTTP_STATUS_URL")
BODY_FILE=$STACK_RUN_DIR/doctor-body.txt
printf '%s' "$BODY" >"$BODY_FILE"

ALL_OUTPUT=""
# doctor ARGS...: runs wagate-admin doctor; sets DOCTOR_STATUS and DOCTOR_OUT (stdout and stderr).
doctor() {
  DOCTOR_STATUS=0
  DOCTOR_OUT=$("${ADMIN[@]}" doctor "$@" 2>&1) || DOCTOR_STATUS=$?
  ALL_OUTPUT+=$DOCTOR_OUT
}

# The signature Twilio would send for the stack's real status URL: nginx
# accepts it, and so does the doctor, naming the URL and the token.
https_post /api/v1/whatsapp/status "$BODY" -H "X-Twilio-Signature: $GOOD_SIGNATURE" \
  -H "Content-Type: application/x-www-form-urlencoded"
assert_eq 200 "$HTTP_STATUS" "the correctly signed callback is accepted"
doctor --url "$STATUS_URL" --signature "$GOOD_SIGNATURE" --body-file "$BODY_FILE"
assert_eq 0 "$DOCTOR_STATUS" "doctor exits 0 for a matching signature"
assert_contains "$DOCTOR_OUT" "tenant:         local" "doctor names the tenant"
assert_contains "$DOCTOR_OUT" "verdict: matches $STATUS_URL (as given) with the current token" \
  "doctor says which URL and token matched"
assert_contains "$DOCTOR_OUT" "  MessageStatus = sent" "doctor lists the signed parameters"

# Signed for http:// (a proxy in front that ends TLS): wagate refuses it and
# logs the URL it checked; the doctor, given that URL, names the scheme.
https_post /api/v1/whatsapp/status "$BODY" -H "X-Twilio-Signature: $HTTP_SIGNATURE" \
  -H "Content-Type: application/x-www-form-urlencoded"
assert_eq 403 "$HTTP_STATUS" "the callback signed for http:// is refused"
rejected() { grep -h 'event=webhook_rejected' "$STACK_RUN_DIR"/logs/*.log | grep -q 'reason=invalid_signature'; }
wait_for 10 "the refusal is logged" rejected
LOGGED_LINE=$(grep -h 'event=webhook_rejected' "$STACK_RUN_DIR"/logs/*.log | grep 'reason=invalid_signature' | tail -n 1)
assert_contains "$LOGGED_LINE" "account_sid=$TWILIO_ACCOUNT_SID" "the refusal log line names the AccountSid"
LOGGED_URL=$(sed -E 's/.* url=([^ ]+).*/\1/' <<<"$LOGGED_LINE")
assert_eq "$STATUS_URL" "$LOGGED_URL" "the refusal log line carries the URL wagate checked"
[[ $LOGGED_LINE != *"$HTTP_SIGNATURE"* && $LOGGED_LINE != *"$TWILIO_AUTH_TOKEN"* ]] ||
  fail "the refusal log line carries the signature or the token"
doctor --url "$LOGGED_URL" --signature "$HTTP_SIGNATURE" --body "$BODY"
assert_eq 1 "$DOCTOR_STATUS" "doctor exits 1 when nothing wagate checks matches"
assert_contains "$DOCTOR_OUT" "[current: MATCH] $HTTP_STATUS_URL  (scheme swapped)" "doctor finds the http:// variant"
assert_contains "$DOCTOR_OUT" "verdict: no URL wagate checks matches, but $HTTP_STATUS_URL does" \
  "the verdict names the URL that would have matched"
assert_contains "$DOCTOR_OUT" "changes the scheme" "the verdict names the scheme"
assert_contains "$DOCTOR_OUT" "public_base_url" "the verdict says what to set"

# A signature that matches nothing this tenant has.
doctor --url "$STATUS_URL" --signature "$(printf 'x' | openssl dgst -sha1 -hmac other -binary | base64)" \
  --body-file "$BODY_FILE"
assert_eq 1 "$DOCTOR_STATUS" "doctor exits 1 for another account's signature"
assert_contains "$DOCTOR_OUT" "no token of this tenant" "the verdict says no token matches"

# An AccountSid that is no tenant: a usage error naming it.
UNKNOWN=AC$(openssl rand -hex 16)
doctor --url "$STATUS_URL" --signature "$GOOD_SIGNATURE" --body-file "$BODY_FILE" --account-sid "$UNKNOWN"
assert_eq 2 "$DOCTOR_STATUS" "doctor exits 2 for an unknown AccountSid"
assert_contains "$DOCTOR_OUT" "wagate-admin doctor: no tenant has AccountSid $UNKNOWN" "the message names it"

# Usage errors.
doctor --url "$STATUS_URL" --body-file "$BODY_FILE"
assert_eq 2 "$DOCTOR_STATUS" "doctor exits 2 without --signature"
assert_contains "$DOCTOR_OUT" "missing --signature" "the message names the missing flag"
doctor --url "$STATUS_URL" --signature "$GOOD_SIGNATURE" --body-file "$STACK_RUN_DIR/no-such-body"
assert_eq 2 "$DOCTOR_STATUS" "doctor exits 2 for an unreadable body file"
assert_contains "$DOCTOR_OUT" "cannot read --body-file" "the message names the file"
"${ADMIN[@]}" help | grep -q '^  doctor ' || fail "wagate-admin help does not list doctor"
pass "wagate-admin help lists doctor"

[[ $ALL_OUTPUT != *"$TWILIO_AUTH_TOKEN"* ]] || fail "doctor printed the auth token"
pass "doctor never prints the auth token"
