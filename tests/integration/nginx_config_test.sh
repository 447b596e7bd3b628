#!/usr/bin/env bash
# nginx_config_test.sh — the nginx configs pass nginx -t, and nginx routes, limits and answers errors as specified.
#
# 1. The stack's rendered config and the production template (rendered with
#    nginx/production.env and a test certificate) both pass `nginx -t`, the
#    latter also inside Debian's own nginx.conf when that is available.
# 2. No fastcgi_keep_conn on anywhere (it pinned handler threads: 1.7 s p99).
# 3. Live, with a FastCGI echo standing in for the handlers: each route
#    reaches its own socket with the params the signature check relies on
#    (raw REQUEST_URI, Host with port, scheme, request id); nginx's own
#    errors are JSON with the right status (404, 413, 429, 502, 400); body
#    limits differ for webhooks and the API; rate limits apply to others but
#    not to 127.0.0.1, and per API key however Authorization is spelled;
#    HTTP redirects to HTTPS; /metrics is only on the local listener; a
#    Host (or TLS server name) other than the configured names is refused.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v nginx >/dev/null || fail "nginx not installed"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wagate-nginx-test.XXXXXX")
STACK_RUN_DIR=$TMP/run
ECHO_PID=""
cleanup() {
  local status=$?
  if [[ $status -ne 0 && -s $STACK_RUN_DIR/nginx/error.log ]]; then
    echo "----- nginx error.log -----" >&2
    tail -n 30 "$STACK_RUN_DIR/nginx/error.log" >&2
  fi
  [[ -n $ECHO_PID ]] && kill "$ECHO_PID" 2>/dev/null
  stack destroy >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# ------------------------------------------------------------ nginx -t

conf=$(stack nginx-config 2>"$TMP/render.log") || { cat "$TMP/render.log" >&2; fail "stack nginx-config failed"; }
assert_eq "$STACK_RUN_DIR/nginx/nginx.conf" "$conf" "stack renders its nginx config into the run dir"
nginx_t() { nginx -t -q -p "$1" -e "$1/error.log" -c "$2" 2>&1; }
out=$(nginx_t "$STACK_RUN_DIR/nginx" "$conf") || fail "nginx -t rejects the stack config: $out"
pass "nginx -t accepts the stack config"

# The production template, with its production values except for paths that
# exist only on a production host.
mkdir -p "$TMP/prod/tmp" "$TMP/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/tls/privkey.pem" \
  -out "$TMP/tls/fullchain.pem" -days 2 -subj /CN=wagate.example.com >/dev/null 2>&1 || fail "openssl req failed"
WAGATE_TLS_CERT=$TMP/tls/fullchain.pem WAGATE_TLS_KEY=$TMP/tls/privkey.pem \
  WAGATE_SNIPPETS_DIR=$WAGATE_SOURCE_DIR/nginx/snippets WAGATE_ACCESS_LOG=$TMP/prod/access.log \
  "$WAGATE_SOURCE_DIR/scripts/render-nginx" "$WAGATE_SOURCE_DIR/nginx/wagate.conf.template" \
  "$WAGATE_SOURCE_DIR/nginx/production.env" >"$TMP/prod/site.conf" || fail "render-nginx failed for production"
assert_contains "$(cat "$TMP/prod/site.conf")" "listen [::]:443 ssl http2;" "production site listens on 443"
assert_contains "$(cat "$TMP/prod/site.conf")" "listen [::]:443 ssl http2 default_server ipv6only=off;" \
  "a dual-stack catch-all server is the default on 443"
assert_contains "$(cat "$TMP/prod/site.conf")" "ssl_reject_handshake on;" \
  "production refuses the TLS handshake for a server name that is not its own"
assert_contains "$(cat "$TMP/prod/site.conf")" "listen [::]:80 default_server ipv6only=off;" \
  "a catch-all server is the default on 80"
assert_contains "$(cat "$TMP/prod/site.conf")" "server unix:/run/wagate/status.sock;" "production site uses the systemd socket dir"
if grep -Eq '\$\{WAGATE_[A-Z0-9_]+\}' "$TMP/prod/site.conf"; then fail "unrendered placeholder in production site"; fi
# nginx -t checks that it may bind each address: below 1024 only root may.
if [[ $EUID -ne 0 ]]; then
  free() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  WAGATE_HTTPS_LISTEN="[::]:$(free)" WAGATE_HTTP_LISTEN="[::]:$(free)" \
    WAGATE_TLS_CERT=$TMP/tls/fullchain.pem WAGATE_TLS_KEY=$TMP/tls/privkey.pem \
    WAGATE_SNIPPETS_DIR=$WAGATE_SOURCE_DIR/nginx/snippets WAGATE_ACCESS_LOG=$TMP/prod/access.log \
    "$WAGATE_SOURCE_DIR/scripts/render-nginx" "$WAGATE_SOURCE_DIR/nginx/wagate.conf.template" \
    "$WAGATE_SOURCE_DIR/nginx/production.env" >"$TMP/prod/site.conf" || fail "render-nginx failed for production"
fi
WAGATE_NGINX_USER="" WAGATE_NGINX_WORKERS=1 WAGATE_NGINX_DIR=$TMP/prod WAGATE_SITE_CONF=$TMP/prod/site.conf \
  "$WAGATE_SOURCE_DIR/scripts/render-nginx" "$WAGATE_SOURCE_DIR/nginx/stack.conf.template" >"$TMP/prod/nginx.conf"
out=$(nginx_t "$TMP/prod" "$TMP/prod/nginx.conf") || fail "nginx -t rejects the production site: $out"
pass "nginx -t accepts the production site"

# Inside the distribution's nginx.conf, as deployed (its http-level settings
# must not clash with ours). Needs root: that file logs to /var/log/nginx.
if [[ $EUID -eq 0 && -r /etc/nginx/nginx.conf ]]; then
  sed -e "s|include /etc/nginx/sites-enabled/\*;|include $TMP/prod/site.conf;|" \
    -e "s|include /etc/nginx/conf.d/\*.conf;||" /etc/nginx/nginx.conf >"$TMP/prod/debian.conf"
  assert_contains "$(cat "$TMP/prod/debian.conf")" "include $TMP/prod/site.conf;" "Debian nginx.conf includes the site"
  out=$(nginx -t -q -c "$TMP/prod/debian.conf" 2>&1) || fail "nginx -t rejects the site inside Debian's nginx.conf: $out"
  pass "nginx -t accepts the site inside Debian's nginx.conf"
else
  echo "skip [$TEST_NAME]: Debian nginx.conf variant needs root"
fi

# ------------------------------------------------------------ keepalive

dump=$(nginx -T -q -p "$STACK_RUN_DIR/nginx" -e "$STACK_RUN_DIR/nginx/error.log" -c "$conf" 2>/dev/null) ||
  fail "nginx -T failed"
assert_contains "$dump" "fastcgi_keep_conn off;" "the full config sets fastcgi_keep_conn off"
if grep -Eq '^[^#]*fastcgi_keep_conn[[:space:]]+on' <<<"$dump"; then fail "fastcgi_keep_conn on in the stack config"; fi
if grep -REq '^[^#]*fastcgi_keep_conn[[:space:]]+on' "$WAGATE_SOURCE_DIR/nginx" "$TMP/prod"; then
  fail "fastcgi_keep_conn on in nginx/ or the production site"
fi
if grep -Eq '^[[:space:]]*keepalive[[:space:]]+[0-9]' <<<"$dump"; then fail "upstream keepalive in the stack config"; fi
pass "no fastcgi_keep_conn on and no upstream keepalive"

# ------------------------------------------------------------ live

# shellcheck disable=SC1091
. "$STACK_RUN_DIR/ports.env"
WAGATE_URL=https://127.0.0.1:$HTTPS_PORT
WAGATE_CA_CERT=$STACK_RUN_DIR/tls/cert.pem
python3 "$WAGATE_SOURCE_DIR/tests/integration/fcgi_echo.py" "$STACK_RUN_DIR/sockets" api inbound status links \
  >"$TMP/echo.log" 2>&1 &
ECHO_PID=$!
wait_for 10 "FastCGI echo sockets" test -S "$STACK_RUN_DIR/sockets/status.sock" -a -S "$STACK_RUN_DIR/sockets/api.sock"
nginx -p "$STACK_RUN_DIR/nginx" -e "$STACK_RUN_DIR/nginx/error.log" -c "$conf" || fail "nginx did not start"
nginx_up() { [[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$WAGATE_CA_CERT" "$WAGATE_URL/") != 000 ]]; }
wait_for 10 "nginx answering on $WAGATE_URL" nginx_up

# Status callback: routed to the status socket with the raw target.
callback='MessageSid=SM1&MessageStatus=sent'
https_post '/api/v1/whatsapp/status?b=%41&a=1' "$callback" \
  -H 'X-Twilio-Signature: c2lnbmF0dXJl' -H 'Proxy: http://evil.example' --http1.1
assert_eq 200 "$HTTP_STATUS" "status callback reaches a handler"
assert_json "$HTTP_BODY" '.group == "status"' "status route goes to the status socket"
assert_json "$HTTP_BODY" '.params.REQUEST_URI == "/api/v1/whatsapp/status?b=%41&a=1"' "REQUEST_URI is the raw request target"
assert_json "$HTTP_BODY" ".params.HTTP_HOST == \"127.0.0.1:$HTTPS_PORT\"" "HTTP_HOST keeps the port"
assert_json "$HTTP_BODY" '.params.REQUEST_SCHEME == "https" and .params.HTTPS == "on"' "scheme is https"
assert_json "$HTTP_BODY" '.params.REQUEST_METHOD == "POST" and .params.QUERY_STRING == "b=%41&a=1"' "method and query"
assert_json "$HTTP_BODY" '.params.CONTENT_TYPE == "application/x-www-form-urlencoded" and .params.CONTENT_LENGTH == "'"${#callback}"'"' \
  "content type and length"
assert_json "$HTTP_BODY" '.params.HTTP_X_TWILIO_SIGNATURE == "c2lnbmF0dXJl"' "signature header passed as HTTP_*"
assert_json "$HTTP_BODY" '.params.REMOTE_ADDR == "127.0.0.1" and .params.DOCUMENT_URI == "/api/v1/whatsapp/status"' \
  "client address and normalised path"
assert_json "$HTTP_BODY" '(.params.HTTP_PROXY // "") == ""' "a Proxy header never becomes HTTP_PROXY"
assert_json "$HTTP_BODY" '[.params | keys[] | select(. == "HTTP_HOST")] | length == 1' "HTTP_HOST is sent once"
request_id=$(jq -r .params.REQUEST_ID <<<"$HTTP_BODY")
assert_eq 1 "$(grep -c '^x-request-id:' <<<"$HTTP_HEADERS")" "exactly one X-Request-Id header"
assert_contains "$HTTP_HEADERS" "x-request-id: $request_id" "X-Request-Id is the REQUEST_ID the handler saw"
assert_contains "$HTTP_HEADERS" "strict-transport-security: max-age=" "HSTS on answers"

https_post /api/v1/whatsapp/webhook 'Body=hi'
assert_json "$HTTP_BODY" '.group == "inbound"' "webhook route goes to the inbound socket"
https_get /api/v1/health
assert_json "$HTTP_BODY" '.group == "api"' "API routes go to the api socket"
https_post /api/v1/whatsapp/status/extra 'x=1'
assert_json "$HTTP_BODY" '.group == "api"' "only the exact status path goes to the status socket"
https_get /l/AbCdEfGhIjKlMnOpQr-_01
assert_json "$HTTP_BODY" '.group == "links" and .params.REQUEST_URI == "/l/AbCdEfGhIjKlMnOpQr-_01"' \
  "tracked links go to the links socket"
https_get /l/AbCdEfGhIjKlMnOpQr-_01/more
assert_eq 404 "$HTTP_STATUS" "a path below a link is 404"
assert_contains "$HTTP_HEADERS" "content-type: text/html; charset=utf-8" "that 404 is an HTML page for a browser"
assert_contains "$HTTP_BODY" "Link not found" "saying the link is not found"

# nginx's own errors, as JSON.
https_get /nope
assert_eq 404 "$HTTP_STATUS" "unknown path outside /api is 404"
assert_json "$HTTP_BODY" '.error.code == "not_found" and (.error.message | length > 0)' "404 is JSON"
assert_contains "$HTTP_HEADERS" "content-type: application/json" "404 is served as JSON"
https_get /metrics
assert_eq 404 "$HTTP_STATUS" "/metrics is not served on the public port"

head -c 70000 /dev/zero | tr '\0' a >"$TMP/70k"
https_post /api/v1/whatsapp/webhook "$(cat "$TMP/70k")"
assert_eq 413 "$HTTP_STATUS" "a webhook body over 64 kB is refused"
assert_json "$HTTP_BODY" '.error.code == "body_too_large"' "413 is JSON"
https_post /api/v1/whatsapp/status "$(cat "$TMP/70k")"
assert_eq 413 "$HTTP_STATUS" "a status callback body over 64 kB is refused"
https_post /api/v1/whatsapp/send "$(cat "$TMP/70k")"
assert_eq 200 "$HTTP_STATUS" "the API accepts a 70 kB body"
assert_json "$HTTP_BODY" '.body_bytes == 70000' "the whole API body reaches the handler"
head -c 1100000 /dev/zero | tr '\0' a >"$TMP/1.1m"
http_request POST "$WAGATE_URL/api/v1/whatsapp/send" "" --data-binary "@$TMP/1.1m"
assert_eq 413 "$HTTP_STATUS" "an API body over 1 MB is refused"

# Rate limits: another loopback address is limited like any client; 127.0.0.1
# (this host: health checks, benchmarks) is not.
flood() {
  local from=$1 config=$TMP/flood.curl
  for _ in $(seq 400); do printf 'url = "%s/api/v1/whatsapp/messages/x"\noutput = "/dev/null"\n' "$WAGATE_URL"; done >"$config"
  curl -s --cacert "$WAGATE_CA_CERT" --noproxy '*' -Z --parallel-max 50 --interface "$from" \
    -H 'Authorization: Bearer test-key' -w '%{http_code} %header{retry-after} %header{content-type}\n' -K "$config" 2>/dev/null
}
codes=$(flood 127.0.0.2)
assert_contains "$codes" "429 1 application/json" "a burst from one client gets JSON 429 with Retry-After: 1"
codes=$(flood 127.0.0.1)
if grep -q '^429' <<<"$codes"; then fail "127.0.0.1 was rate-limited"; fi
pass "127.0.0.1 is not rate-limited"

# Tracked links have a zone of their own: a click flood from one address is
# refused with an HTML 429, and leaves that address's webhooks alone.
link_flood() {
  local config=$TMP/link-flood.curl
  for _ in $(seq 600); do printf 'url = "%s/l/AbCdEfGhIjKlMnOpQr-_01"\noutput = "/dev/null"\n' "$WAGATE_URL"; done >"$config"
  curl -s --cacert "$WAGATE_CA_CERT" --noproxy '*' -Z --parallel-max 50 --interface 127.0.0.3 \
    -w '%{http_code} %header{content-type}\n' -K "$config" 2>/dev/null
}
codes=$(link_flood)
assert_contains "$codes" "429 text/html; charset=utf-8" "a click flood from one address gets HTML 429"
https_post /api/v1/whatsapp/status "$callback" --interface 127.0.0.3
assert_eq 200 "$HTTP_STATUS" "the flooding address's webhooks still pass: the link zone is not the webhooks'"

# Plain HTTP: redirect; HTTP on the HTTPS port: JSON 400.
http_request GET "http://127.0.0.1:$HTTP_PORT/api/v1/health?x=1"
assert_eq 301 "$HTTP_STATUS" "HTTP redirects"
assert_contains "$HTTP_HEADERS" "location: https://127.0.0.1:$HTTPS_PORT/api/v1/health?x=1" "to the same URL over HTTPS"
http_request GET "http://127.0.0.1:$HTTPS_PORT/api/v1/health"
assert_eq 400 "$HTTP_STATUS" "plain HTTP on the HTTPS port is 400"
assert_json "$HTTP_BODY" '.error.code == "https_required"' "and says to use HTTPS"

# Metrics: the local listener passes GET /metrics to the api socket only.
http_request GET "http://127.0.0.1:$METRICS_PORT/metrics"
assert_json "$HTTP_BODY" '.group == "api" and .params.REQUEST_URI == "/metrics"' "metrics listener reaches the api socket"
http_request POST "http://127.0.0.1:$METRICS_PORT/metrics" "x"
assert_eq 403 "$HTTP_STATUS" "metrics listener refuses other methods"
http_request GET "http://127.0.0.1:$METRICS_PORT/other"
assert_eq 404 "$HTTP_STATUS" "metrics listener serves nothing else"

# Only the configured server names are answered: a foreign Host header
# never reaches a handler, so a webhook signed for another host's URL (with
# public_base_url empty the handler rebuilds the URL from Host) is refused.
https_post /api/v1/whatsapp/status "$callback" -H 'Host: evil.example' -H 'X-Twilio-Signature: c2lnbmF0dXJl'
assert_eq 421 "$HTTP_STATUS" "a foreign Host header is refused with 421"
assert_json "$HTTP_BODY" '.error.code == "misdirected_request" and (.group == null)' \
  "the refusal is JSON from nginx, not a handler's answer"
http_request POST "https://evil.example:$HTTPS_PORT/api/v1/whatsapp/status" "$callback" -k \
  --resolve "evil.example:$HTTPS_PORT:127.0.0.1"
assert_eq 421 "$HTTP_STATUS" "a foreign TLS server name (SNI) and Host are refused"
https_get /api/v1/health -H "Host: localhost:$HTTPS_PORT"
assert_json "$HTTP_BODY" '.group == "api"' "a configured name (localhost) with a port is served"
http_request GET "http://127.0.0.1:$HTTP_PORT/" "" -H 'Host: evil.example'
assert_eq 000 "$HTTP_STATUS" "plain HTTP with a foreign Host gets the connection closed (444), no redirect"

# The API's rate limit is per API key, however the client spells the
# Authorization header: the scheme in any case, one or more spaces. Checked
# with the per-key zone slowed to 1r/m, burst 5: six requests of one key pass,
# whatever their spellings, and the seventh is refused; another key still
# passes. nginx is restarted on copies of the snippets with just that changed.
mkdir -p "$TMP/snippets"
cp "$WAGATE_SOURCE_DIR"/nginx/snippets/*.conf "$TMP/snippets/"
sed -i 's|zone=wagate_api_key:32m rate=100r/s;|zone=wagate_api_key:32m rate=1r/m;|' "$TMP/snippets/limits.conf"
sed -i 's|zone=wagate_api_key burst=200 nodelay;|zone=wagate_api_key burst=5 nodelay;|' "$TMP/snippets/limits-api.conf"
grep -q 'rate=1r/m;' "$TMP/snippets/limits.conf" || fail "could not slow the per-key zone in limits.conf"
grep -q 'burst=5 nodelay;' "$TMP/snippets/limits-api.conf" || fail "could not lower the per-key burst"
sed -i "s|$WAGATE_SOURCE_DIR/nginx/snippets/|$TMP/snippets/|g" "$STACK_RUN_DIR/nginx/site.conf"
nginx_master=$(cat "$STACK_RUN_DIR/nginx/nginx.pid")
kill -QUIT "$nginx_master"
wait_for 10 "nginx stopped for the slowed config" bash -c "! kill -0 $nginx_master 2>/dev/null"
nginx -p "$STACK_RUN_DIR/nginx" -e "$STACK_RUN_DIR/nginx/error.log" -c "$conf" || fail "nginx did not start slowed"
wait_for 10 "nginx answering again" nginx_up
limited_codes=""
for round in 1 2 3; do
  for auth in "Bearer wg_shared.key" "bearer wg_shared.key" "BEARER  wg_shared.key" "bEaReR   wg_shared.key"; do
    http_request GET "$WAGATE_URL/api/v1/whatsapp/messages/x" "" --interface 127.0.0.3 -H "Authorization: $auth"
    limited_codes+="$HTTP_STATUS "
  done
done
assert_eq "200 200 200 200 200 200 429 429 429 429 429 429 " "$limited_codes" \
  "one key spelled four ways shares one bucket (6 pass, then 429)"
http_request GET "$WAGATE_URL/api/v1/whatsapp/messages/x" "" --interface 127.0.0.3 -H "Authorization: Bearer wg_other.key"
assert_eq 200 "$HTTP_STATUS" "another key from the same address has its own bucket"

# A handler that is down: JSON 502, fast.
kill "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null || true
ECHO_PID=""
rm -f "$STACK_RUN_DIR"/sockets/*.sock
https_post /api/v1/whatsapp/status 'MessageSid=SM1'
assert_eq 502 "$HTTP_STATUS" "a handler that is down gives 502"
assert_json "$HTTP_BODY" '.error.code == "upstream_unavailable"' "502 is JSON"
echo "PASS [$TEST_NAME]"
