#!/usr/bin/env bash
# links_test.sh — tracked links through nginx over HTTPS: 302 to the stored target, clicks and previews counted apart, HTML 404 and 503.
#
# The links are made by creating a distribution through the API. The targets are
# strings only: curl never follows a redirect here (no -L), so nothing
# leaves this machine, not even a DNS query.
. "$(dirname "$0")/lib.sh"
stack_up

psql_stack() { psql "$WAGATE_PG_DSN" -XAt -v ON_ERROR_STOP=1 -c "$1"; }

# Two links made the way a distribution makes them: created through the API,
# their tokens then read from the table.
TARGET='https://survey.example/s/1?r=ref-1&x=%20'
https_post /api/v1/distributions '{"name": "links test", "body": "Hi {{name}}: {{link}}",
  "link": "https://survey.example/s/{{n}}?r=ref-{{n}}&x=%20",
  "contacts": [{"phone": "+14155550101", "name": "Ana", "variables": {"n": "1"}},
               {"phone": "+14155550102", "name": "Ben", "variables": {"n": "2"}}]}' \
  -H "Authorization: Bearer $WAGATE_API_KEY" -H 'Content-Type: application/json'
assert_eq 201 "$HTTP_STATUS" "a distribution with a link is created"
TOKEN=$(psql_stack "SELECT token FROM distribution_links WHERE target_url = '$TARGET'")
OTHER=$(psql_stack "SELECT token FROM distribution_links WHERE target_url LIKE 'https://survey.example/s/2?%'")
assert_eq 22 "${#TOKEN}" "each recipient has a 22-character token"
assert_eq 22 "${#OTHER}" "the other recipient has its own"
counts() { psql_stack "SELECT clicks || ' ' || previews || ' ' || (first_click_at IS NOT NULL) || ' ' ||
                              (last_click_at IS NOT NULL) FROM distribution_links WHERE token = '$1'"; }
assert_eq "0 0 false false" "$(counts "$TOKEN")" "a new link has no visits"

# --- a click ---------------------------------------------------------------------
https_get "/l/$TOKEN" -A 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1'
assert_eq 302 "$HTTP_STATUS" "a click is redirected"
assert_contains "$HTTP_HEADERS" "location: $TARGET" "to the stored target, byte for byte"
assert_contains "$HTTP_HEADERS" "cache-control: no-store" "the redirect is not cached, so every click reaches us"
assert_contains "$HTTP_HEADERS" "referrer-policy: no-referrer" "the target does not learn the link"
assert_eq 1 "$(grep -c '^referrer-policy:' <<<"$HTTP_HEADERS")" "one Referrer-Policy header"
assert_eq "1 0 true true" "$(counts "$TOKEN")" "one GET is one click, with its first and last time"
first=$(psql_stack "SELECT first_click_at FROM distribution_links WHERE token = '$TOKEN'")
https_get "/l/$TOKEN?utm=ignored"
assert_eq 302 "$HTTP_STATUS" "a query string does not change the link"
assert_eq "2 0 true true" "$(counts "$TOKEN")" "a second GET is a second click"
assert_eq "$first" "$(psql_stack "SELECT first_click_at FROM distribution_links WHERE token = '$TOKEN'")" \
  "the first click time stays"
assert_eq t "$(psql_stack "SELECT last_click_at > first_click_at FROM distribution_links WHERE token = '$TOKEN'")" \
  "the last click time moves"
assert_eq "0 0 false false" "$(counts "$OTHER")" "another recipient's link is untouched"

# --- previews --------------------------------------------------------------------
for agent in 'WhatsApp/2.23.20.0 A' 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)' \
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)'; do
  https_get "/l/$TOKEN" -A "$agent"
  assert_eq 302 "$HTTP_STATUS" "a preview agent gets the redirect too ($agent)"
  assert_contains "$HTTP_HEADERS" "location: $TARGET" "with the same target"
done
head_status=$(curl -s -I --noproxy '*' --max-time 10 --cacert "$WAGATE_CA_CERT" -o /dev/null -w '%{http_code}' \
  -A 'Mozilla/5.0 Safari' "$WAGATE_URL/l/$TOKEN")
assert_eq 302 "$head_status" "HEAD gets the redirect"
assert_eq "2 4 true true" "$(counts "$TOKEN")" "preview agents and HEAD count as previews, not clicks"

# --- unknown and malformed -----------------------------------------------------------
not_found_html() {
  assert_eq 404 "$HTTP_STATUS" "$1 is 404"
  assert_contains "$HTTP_HEADERS" "content-type: text/html; charset=utf-8" "$1: an HTML page"
  assert_contains "$HTTP_BODY" "Link not found" "$1: says the link is not found"
  if grep -q '^location:' <<<"$HTTP_HEADERS"; then fail "$1 redirects"; fi
}
https_get /l/AbCdEfGhIjKlMnOpQr-_99
not_found_html "an unknown token"
https_get /l/short
not_found_html "a token too short"
https_get "/l/$TOKEN%41"
not_found_html "a token with more after it"
https_get "/l/%27%20OR%201=1--AAAAAAAAAA"
not_found_html "a token with characters outside base64url"
https_get /l/
not_found_html "no token"
https_get "/l/$TOKEN/more"
not_found_html "a deeper path"
assert_eq "2 4 true true" "$(counts "$TOKEN")" "nothing else counted a visit"

# --- metrics -------------------------------------------------------------------
metric() {
  curl -s --noproxy '*' --max-time 5 "$WAGATE_METRICS_URL" |
    awk -v want="outcome=\"$1\"" '$1 ~ /^wagate_link_visits_total\{/ && index($1, want) { sum += $2 } END { print sum + 0 }'
}
# not_found: ours, and the one `stack up` makes when it checks the route.
metrics_settled() { [[ $(metric click) == 2 && $(metric preview) == 4 && $(metric malformed) == 4 && $(metric not_found) == 2 ]]; }
# Each process publishes its counts once a second: wait for them, bounded.
settled=0
for _ in $(seq 50); do
  if metrics_settled; then settled=1 && break; fi
  sleep 0.2
done
((settled)) || fail "wagate_link_visits_total: click $(metric click) (want 2), preview $(metric preview) (4), \
malformed $(metric malformed) (4), not_found $(metric not_found) (2)"
pass "clicks, previews, malformed and unknown tokens are counted in wagate_link_visits_total"

# --- a database that does not answer in time --------------------------------------
# The link's row is locked for longer than db_timeout_ms (1000 ms by
# default): the visitor gets a 503 page within the budget, not a hang.
psql_stack "BEGIN; LOCK TABLE distribution_links IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT" >/dev/null &
locker=$!
# A function, so that wait_for asks again on every try.
lock_taken() {
  [[ $(psql_stack "SELECT count(*) FROM pg_locks WHERE relation = 'distribution_links'::regclass
                      AND mode = 'AccessExclusiveLock' AND granted") == 1 ]]
}
wait_for 5 "the lock is taken" lock_taken
start=$(date +%s.%N)
https_get "/l/$TOKEN"
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
assert_eq 503 "$HTTP_STATUS" "a click the database does not answer in time is 503"
assert_contains "$HTTP_HEADERS" "content-type: text/html; charset=utf-8" "503 is an HTML page"
assert_contains "$HTTP_BODY" "Try again shortly" "it asks the visitor to retry"
(($(echo "$elapsed < 2.5" | bc))) || fail "the 503 took ${elapsed}s; db_timeout_ms is 1 s"
pass "answered within 2.5 s (${elapsed}s)"
wait "$locker"

# --- Postgres stopped -------------------------------------------------------------
stack stop postgres
start=$(date +%s.%N)
https_get "/l/$TOKEN"
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
assert_eq 503 "$HTTP_STATUS" "with Postgres stopped, a click is 503"
assert_contains "$HTTP_HEADERS" "content-type: text/html; charset=utf-8" "an HTML page"
assert_contains "$HTTP_BODY" "Try again shortly" "that asks to retry"
(($(echo "$elapsed < 2.5" | bc))) || fail "the 503 took ${elapsed}s"
pass "answered within 2.5 s (${elapsed}s)"
stack up >/dev/null 2>&1 || fail "stack up did not bring Postgres back"
https_get "/l/$TOKEN"
assert_eq 302 "$HTTP_STATUS" "once Postgres is back, the link redirects again"
assert_eq "3 4 true true" "$(counts "$TOKEN")" "and the click is counted"

echo "PASS [$TEST_NAME]"
