#!/usr/bin/env bash
# demo_test.sh — scripts/demo, the README's first command, tells its whole story and exits 0 on a fresh stack.
. "$(dirname "$0")/../integration/lib.sh"

# The demo brings the stack up itself; lib.sh's cleanup takes it down.
STACK_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wagate-test.XXXXXX")
export STACK_RUN_DIR
trap stack_cleanup EXIT

rc=0
out=$(WAGATE_RUN_DIR=$STACK_RUN_DIR WAGATE_BUILD_DIR=$WAGATE_BUILD_DIR "$WAGATE_SOURCE_DIR/scripts/demo" 2>&1) || rc=$?
[[ $rc -eq 0 ]] || fail "scripts/demo exited $rc:
$out"
pass "scripts/demo exits 0"

assert_contains "$out" '"status": "ok"' "the health check is shown and healthy"
assert_contains "$out" "-> gateway answered 200" "the inbound message is accepted"
assert_contains "$out" "24-hour window open until" "the inbound message opens the window"
assert_contains "$out" "status: read" "the reply reaches read"
assert_contains "$out" "delivered  (was sent)" "the reply's history shows each callback with the status before it"
assert_contains "$out" "failed (error 63024: " "the failing reply carries Twilio's error code and its description"
assert_contains "$out" '-> 422 {"error":{"code":"outside_session_window"' "a message outside the window is refused"
assert_contains "$out" '-> 403 {"error":{"code":"invalid_signature"' "a forged callback is refused"
assert_contains "$out" 'POST /api/v1/distributions (5 contacts) -> 201 recipients {"accepted": 3, "duplicates": 1' \
  "the campaign plans each contact once and lists the bad number"
assert_contains "$out" "-> 302, Location: https://survey.example/s/42?r=a1" "a tracked link redirects to the recipient's own target"
assert_contains "$out" '"delivered": 2' "the funnel counts the delivered recipients"
assert_contains "$out" '"clicked": 1' "the click counts once, the preview not at all"

load_stack_env
[[ $out != *"$TWILIO_AUTH_TOKEN"* ]] || fail "the demo printed the tenant's auth token"
pass "the demo never prints the auth token"
key_lines=$(grep -c 'wg_[a-z2-7]\{12\}_[A-Za-z0-9_-]\{43\}' <<<"$out" || true)
assert_eq 0 "$key_lines" "the demo never prints a whole API key"
