#!/usr/bin/env bash
# stack_test.sh — scripts/stack brings up a working stack from nothing, is idempotent, and leaves nothing behind.
#
# From an empty run directory: every piece runs; health answers 200 over
# HTTPS through nginx; HTTP redirects; nginx's own errors are JSON; the
# written stack.env, config and secrets are usable; a second `up` changes no
# process; with Postgres stopped health answers 503 naming it, and `up`
# brings it back; `down` leaves no process that names the run directory.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x $WAGATE_BUILD_DIR/bin/wagate-api ]] || fail "wagate-api is not built in $WAGATE_BUILD_DIR/bin"

stack_up
pass "stack up from an empty run directory"

# ------------------------------------------------------------ status

status_out=$(stack status) || fail "stack status exits non-zero right after up: $status_out"
for piece in postgres redis nginx api; do
  assert_contains "$status_out" "$(printf '%-9s running pid=' "$piece")" "status: $piece runs"
done
if grep -Ev ' (running pid=[0-9]+|not built)' <<<"$status_out"; then fail "status shows a piece that is not running"; fi
pass "status: every built piece runs"

# ------------------------------------------------------------ what up wrote

for key in WAGATE_URL WAGATE_HTTP_URL WAGATE_METRICS_URL WAGATE_PG_DSN WAGATE_REDIS_URL WAGATE_RUN_DIR \
  WAGATE_CONFIG WAGATE_CA_CERT; do
  [[ -n ${!key:-} ]] || fail "stack.env lacks a value for $key"
done
for key in WAGATE_API_KEY TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN WAGATE_SIM_URL; do
  grep -q "^$key=" "$STACK_RUN_DIR/stack.env" || fail "stack.env lacks $key"
done
pass "stack.env names every key"
assert_eq "$STACK_RUN_DIR" "$WAGATE_RUN_DIR" "stack.env names the run directory"
[[ $WAGATE_URL =~ ^https://127\.0\.0\.1:[0-9]+$ ]] || fail "WAGATE_URL is not a loopback HTTPS URL: $WAGATE_URL"

key_file=$STACK_RUN_DIR/secrets/master.key
assert_eq 600 "$(stat -c %a "$key_file")" "master key is private"
[[ $(tr -d '\n' <"$key_file") =~ ^[0-9a-f]{64}$ ]] || fail "master key is not 64 hex characters"
pass "master key is 64 hex characters"
assert_contains "$(cat "$WAGATE_CONFIG")" "master_key_file = $key_file" "config names the master key file"

[[ $(psql "$WAGATE_PG_DSN" -XAtc 'SELECT current_user') == wagate ]] || fail "cannot connect with WAGATE_PG_DSN"
pass "WAGATE_PG_DSN connects as wagate"
assert_eq "on on" "$(psql "$WAGATE_PG_DSN" -XAtc 'SHOW fsync' | tr -d '\n') $(psql "$WAGATE_PG_DSN" -XAtc 'SHOW synchronous_commit')" \
  "Postgres keeps fsync and synchronous_commit on"
assert_eq PONG "$(redis-cli -u "$WAGATE_REDIS_URL" ping)" "WAGATE_REDIS_URL answers"
assert_eq "appendonly yes" "$(redis-cli -u "$WAGATE_REDIS_URL" config get appendonly | tr '\n' ' ' | sed 's/ $//')" \
  "Redis keeps an append-only file"

# ------------------------------------------------------------ through nginx

https_get /api/v1/health
assert_eq 200 "$HTTP_STATUS" "GET /api/v1/health over HTTPS"
assert_contains "$HTTP_HEADERS" "content-type: application/json" "health is JSON"
assert_json "$HTTP_BODY" '.status == "ok" and .checks.postgres.ok == true and .checks.redis.ok == true' \
  "health reports postgres and redis up"
assert_contains "$HTTP_HEADERS" "x-request-id: " "answers carry X-Request-Id"

http_request GET "$WAGATE_HTTP_URL/api/v1/health"
assert_eq 301 "$HTTP_STATUS" "the HTTP port redirects"
assert_contains "$HTTP_HEADERS" "location: $WAGATE_URL/api/v1/health" "to HTTPS"

https_get /no/such/thing
assert_eq 404 "$HTTP_STATUS" "unknown path outside /api"
assert_json "$HTTP_BODY" '.error.code == "not_found"' "404 is JSON"

big=$(head -c 70000 /dev/zero | tr '\0' a)
https_post /api/v1/whatsapp/webhook "$big" -H 'Content-Type: application/x-www-form-urlencoded'
assert_eq 413 "$HTTP_STATUS" "oversize webhook body"
assert_json "$HTTP_BODY" '.error.code == "body_too_large"' "413 is JSON"

# ------------------------------------------------------------ idempotent

stack up 2>/dev/null || fail "second stack up failed"
assert_eq "$status_out" "$(stack status)" "a second up leaves every process as it was"

# ------------------------------------------------------------ Postgres down

stack stop postgres 2>/dev/null
stack status >/dev/null && fail "status exits 0 with Postgres stopped"
assert_contains "$(stack status || true)" "$(printf '%-9s stopped' postgres)" "status shows Postgres stopped"
https_get /api/v1/health
assert_eq 503 "$HTTP_STATUS" "health with Postgres stopped"
assert_json "$HTTP_BODY" '.checks.postgres.ok == false and .checks.redis.ok == true' "health says which check failed"
assert_contains "$HTTP_BODY" "postgres" "the 503 names postgres"

stack up 2>/dev/null || fail "stack up after stopping Postgres failed"
health_ok() {
  https_get /api/v1/health
  [[ $HTTP_STATUS == 200 ]]
}
wait_for 30 "health back to 200 after up restarted Postgres" health_ok
pass "up restarts a stopped piece and health recovers"

# ------------------------------------------------------------ down

stack down 2>/dev/null || fail "stack down failed"
stack status >/dev/null && fail "status exits 0 after down"
if grep -v -E ' (stopped|not built)$' <<<"$(stack status || true)"; then fail "a piece still runs after down"; fi
pass "status after down: everything stopped"
left=$(stack_processes)
[[ -z $left ]] || fail "processes left after down: $left"
pass "no process names the run directory after down"
echo "PASS [$TEST_NAME]"
