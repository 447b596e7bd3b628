#!/usr/bin/env bash
# signals_test.sh — a burst of HUPs kills no daemon, TERM during a reload drains cleanly, no daemon can dump core.
#
# Every daemon blocks TERM, INT and HUP before its first thread starts and
# takes them in one place (sigwait). A thread started earlier (a handler's
# committers, spool replay) would otherwise meet a signal the waiting thread
# was too busy to take, with the default action: the process dies. HUPs back
# to back are exactly that: the main thread is reloading when the next one
# comes. Only this stack's processes are signalled, found by its pid files.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for b in wagate-api wagate-inbound wagate-status wagate-sender wagate-twilio-sim; do
  [[ -x $WAGATE_BUILD_DIR/bin/$b ]] || fail "$b is not built in $WAGATE_BUILD_DIR/bin"
done
stack_up
PY="$WAGATE_SOURCE_DIR/tests/integration/twilio_client.py"

# The daemons of this stack: each handler group's processes (multiwatch's
# children; multiwatch itself takes HUP as "stop"), the sender, the simulator.
declare -A names=()
daemon_pids() {
  local g
  for g in api inbound status links; do pgrep -P "$(cat "$STACK_RUN_DIR/pids/$g.pid")" | sort; done
  cat "$STACK_RUN_DIR/pids/sender.pid" "$STACK_RUN_DIR/pids/sim.pid"
}
before=$(daemon_pids)
assert_eq 10 "$(wc -l <<<"$before")" "two processes per handler group, the sender and the simulator"
for pid in $before; do names[$pid]=$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -d' ' -f1); done

post_signed_callback() {
  WAGATE_RUN_DIR=$STACK_RUN_DIR python3 - "$PY" <<'PYCODE'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("twilio_client", sys.argv[1])
tc = importlib.util.module_from_spec(spec); spec.loader.exec_module(tc)
env = tc.stack_env(); gw = tc.Gateway(env)
codes = []
for path in ("/api/v1/whatsapp/status", "/api/v1/whatsapp/webhook"):
    params = [("AccountSid", env["TWILIO_ACCOUNT_SID"]), ("MessageSid", tc.new_sid()), ("MessageStatus", "sent")]
    if path.endswith("webhook"):
        params = [("AccountSid", env["TWILIO_ACCOUNT_SID"]), ("MessageSid", tc.new_sid()),
                  ("From", "whatsapp:+14155550100"), ("To", tc.LOCAL_SENDER), ("Body", "hi")]
    codes.append(str(gw.post_signed(path, params)[0]))
print(" ".join(codes))
PYCODE
}

# Every handler process must answer, not just one of each pair: several
# rounds, since the socket hands each connection to whichever is free.
all_serving() {
  local _
  for _ in 1 2 3 4 5 6; do
    assert_eq "200 200" "$(post_signed_callback)" "a signed status callback and inbound message are answered 200"
    https_get /api/v1/whatsapp/messages/SM00000000000000000000000000000000 -H "Authorization: Bearer $WAGATE_API_KEY"
    assert_eq 404 "$HTTP_STATUS" "the API answers an authenticated lookup"
    https_get /l/AAAAAAAAAAAAAAAAAAAAAA
    assert_eq 404 "$HTTP_STATUS" "the links handler answers an unknown token"
  done
}
all_serving

# --------------------------------------------------------------- 100 HUPs

for pid in $before; do
  for _ in $(seq 100); do kill -HUP "$pid" 2>/dev/null || break; done
done
# A process killed by a signal is gone at once (multiwatch then starts a
# new one); give the reloads a moment to finish before looking.
sleep 2
dead=""
for pid in $before; do
  [[ -d /proc/$pid ]] || dead+=" ${names[$pid]##*/} (pid $pid)"
done
[[ -z $dead ]] || fail "died of 100 HUPs sent back to back:$dead"
pass "every daemon survived 100 HUPs sent back to back"
assert_eq "$before" "$(daemon_pids)" "the same processes serve after the HUPs (none was replaced)"
all_serving

# --------------------------------------------------------------- no core dumps

# RLIMIT_CORE and PR_SET_DUMPABLE are set together, first thing in main();
# tests/unit/process_test.cpp checks PR_GET_DUMPABLE itself. Run as another
# user, a non-dumpable process's /proc entries also belong to root.
for pid in $before; do
  core=$(awk '/^Max core file size/ { print $5 " " $6 }' "/proc/$pid/limits")
  assert_eq "0 0" "$core" "${names[$pid]##*/} (pid $pid) may not write a core file (RLIMIT_CORE 0)"
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
  if [[ $uid != 0 ]]; then
    assert_eq 0 "$(stat -c %u "/proc/$pid/environ")" "${names[$pid]##*/} (pid $pid) is not dumpable"
  fi
done

# --------------------------------------------------------------- TERM during a reload

WORK=$(mktemp -d "$STACK_RUN_DIR/drain.XXXXXX")
out=$(WAGATE_RUN_DIR=$STACK_RUN_DIR python3 "$WAGATE_SOURCE_DIR/tests/integration/fcgi_drain.py" \
  "$WAGATE_BUILD_DIR/bin/wagate-status" "$WORK") || {
  echo "$out" >&2
  tail -n 20 "$WORK/drain.log" >&2
  fail "TERM during a reload: $(tail -n 1 <<<"$out")"
}
echo "$out"
assert_contains "$(cat "$WORK/drain.log")" "event=stopped process=wagate-status" "the handler logged a clean stop"
echo "PASS [$TEST_NAME]"
