#!/usr/bin/env bash
# config_reload_test.sh — SIGHUP applies reloadable keys to running handlers; a bad file keeps the old config.
#
# Uses public_base_url, the key an operator changes when a proxy or port
# mapping is put in front of nginx: a callback Twilio signed for the public
# URL is refused until the handlers know that URL, and accepted after HUP.
# Also: a foreign Host never reaches a handler, and a reload never logs a
# secret key's value (redis_url may hold a password).
. "$(dirname "$0")/lib.sh"
stack_up
PY="$WAGATE_SOURCE_DIR/tests/integration/twilio_client.py"

post_for_public_url() {
  WAGATE_RUN_DIR=$STACK_RUN_DIR python3 - "$PY" <<'PYCODE'
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("twilio_client", sys.argv[1])
tc = importlib.util.module_from_spec(spec); spec.loader.exec_module(tc)
env = tc.stack_env(); gw = tc.Gateway(env)
params = [("AccountSid", env["TWILIO_ACCOUNT_SID"]), ("MessageSid", tc.new_sid()), ("MessageStatus", "sent")]
status, _, _ = gw.post_signed("/api/v1/whatsapp/status", params,
                              url="https://gw.example.com/api/v1/whatsapp/status")
print(status)
PYCODE
}

hup_status_handlers() {
  local watcher child
  watcher=$(cat "$STACK_RUN_DIR/pids/status.pid")
  # The handler processes themselves: multiwatch would take HUP as "stop".
  for child in $(pgrep -P "$watcher"); do kill -HUP "$child"; done
}

# With public_base_url empty the URL is rebuilt from the Host header: a
# callback signed for another host's URL, sent with that Host, must never
# reach a handler (nginx answers only its own server names).
post_for_foreign_host() {
  WAGATE_RUN_DIR=$STACK_RUN_DIR python3 - "$PY" <<'PYCODE'
import importlib.util, sys, urllib.parse
spec = importlib.util.spec_from_file_location("twilio_client", sys.argv[1])
tc = importlib.util.module_from_spec(spec); spec.loader.exec_module(tc)
env = tc.stack_env(); gw = tc.Gateway(env)
host = "evil.example:%d" % urllib.parse.urlsplit(env["WAGATE_URL"]).port
params = [("AccountSid", env["TWILIO_ACCOUNT_SID"]), ("MessageSid", tc.new_sid()), ("MessageStatus", "sent")]
status, _, _ = gw.post_signed("/api/v1/whatsapp/status", params, url="https://" + host + "/api/v1/whatsapp/status",
                              headers={"Host": host})
print(status)
PYCODE
}
assert_eq 421 "$(post_for_foreign_host)" "a callback signed for a foreign Host is refused before any handler sees it"

assert_eq 403 "$(post_for_public_url)" "a signature over the public URL fails while the handlers rebuild the URL"

cp "$WAGATE_CONFIG" "$STACK_RUN_DIR/wagate.conf.good"
sed -i '/^public_base_url *=/d' "$WAGATE_CONFIG"
echo "public_base_url = https://gw.example.com" >>"$WAGATE_CONFIG"
hup_status_handlers
wait_for 10 "handlers reloaded public_base_url" bash -c "[[ \$(grep -c 'event=config_reloaded' '$STACK_RUN_DIR/logs/status.log') -ge 2 ]]"
assert_eq 200 "$(post_for_public_url)" "after SIGHUP the configured public URL validates"

echo "no_such_key = 1" >>"$WAGATE_CONFIG"
hup_status_handlers
wait_for 10 "the bad reload was logged" grep -q "event=config_reload_failed" "$STACK_RUN_DIR/logs/status.log"
assert_contains "$(grep 'event=config_reload_failed' "$STACK_RUN_DIR/logs/status.log" | head -1)" "no_such_key" \
  "the failed reload names the key"
assert_eq 200 "$(post_for_public_url)" "a bad file on reload keeps the running config"
cp "$STACK_RUN_DIR/wagate.conf.good" "$WAGATE_CONFIG"

# redis_url can carry Redis's password: a reload that meets a changed one
# names the key (it needs a restart) but never shows the value.
sed -i '/^redis_url *=/d' "$WAGATE_CONFIG"
echo "redis_url = redis://:s3cret-redis-pw@127.0.0.1:1/0" >>"$WAGATE_CONFIG"
hup_status_handlers
wait_for 10 "the reload noticed redis_url" grep -q "event=config_key_needs_restart key=redis_url" \
  "$STACK_RUN_DIR/logs/status.log"
if grep -q "s3cret-redis-pw" "$STACK_RUN_DIR/logs/status.log"; then
  fail "a reload logged redis_url's password: $(grep -m1 s3cret-redis-pw "$STACK_RUN_DIR/logs/status.log")"
fi
pass "a reload names a changed redis_url without showing it"
cp "$STACK_RUN_DIR/wagate.conf.good" "$WAGATE_CONFIG"
