#!/usr/bin/env bash
# handler_restart_test.sh — a handler process that stops is replaced, and its route keeps answering.
#
# The handlers of one endpoint group share one listening socket (multiwatch
# children here; systemd holds it in production, see systemd/). A process
# that ends — TERM from an operator, a restart — must leave that socket
# usable for its siblings and its replacement; otherwise every request of the
# group gets 502 until the whole group is restarted, and Twilio does not
# retry a status callback answered 5xx.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x $WAGATE_BUILD_DIR/bin/wagate-api ]] || fail "wagate-api is not built in $WAGATE_BUILD_DIR/bin"
stack_up

children() { pgrep -P "$1" | sort || true; }  # none is a finding for the assertions, not a silent exit
two_new_children() {
  local now
  now=$(children "$1")
  [[ $(wc -l <<<"$now") -eq 2 && $now != "$2" ]]
}

declare -A routes=([api]=/api/v1/health [inbound]=/api/v1/whatsapp/webhook [status]=/api/v1/whatsapp/status
  [links]=/l/AAAAAAAAAAAAAAAAAAAAAA)
declare -A accept=([api]=200 [inbound]='[1-4][0-9][0-9]' [status]='[1-4][0-9][0-9]' [links]=404)
for g in api inbound status links; do
  [[ -x $WAGATE_BUILD_DIR/bin/wagate-$g ]] || continue
  watcher=$(cat "$STACK_RUN_DIR/pids/$g.pid")
  before=$(children "$watcher")
  assert_eq 2 "$(wc -l <<<"$before")" "$g: two handler processes share the socket"
  victim=$(head -n 1 <<<"$before")
  kill -TERM "$victim"
  wait_for 30 "$g: multiwatch replaces the stopped process" two_new_children "$watcher" "$before"
  pass "$g: the stopped process was replaced"
  for _ in 1 2 3 4 5 6; do
    http_request GET "$WAGATE_URL${routes[$g]}"
    [[ $HTTP_STATUS =~ ^(${accept[$g]})$ ]] ||
      fail "$g: ${routes[$g]} answered $HTTP_STATUS after one handler process stopped (the shared socket must stay usable)"
  done
  pass "$g: ${routes[$g]} keeps answering after one handler process stopped"
done
echo "PASS [$TEST_NAME]"
