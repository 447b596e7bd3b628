# lib.sh — shared helpers of the shell-driven integration and e2e tests: the stack, HTTP, assertions.
# shellcheck shell=bash disable=SC2034  # HTTP_* and the like are read by the tests that source this file
#
# Source it from a test:   . "$(dirname "$0")/../integration/lib.sh"
# CTest sets WAGATE_SOURCE_DIR and WAGATE_BUILD_DIR; run by hand, the source
# dir is found from this file and the build dir defaults to <source>/build.
#
#   stack_up              starts a fresh stack in a temporary run directory
#                         (removed, with everything in it, when the test exits)
#                         and loads its stack.env
#   stack CMD...          scripts/stack CMD for that run directory
#   load_stack_env        (re)reads $WAGATE_RUN_DIR/stack.env into the shell
#   https_get PATH [CURL_ARGS...]
#   https_post PATH BODY [CURL_ARGS...]
#                         request through nginx over HTTPS; set HTTP_STATUS,
#                         HTTP_BODY and HTTP_HEADERS ("name: value" lines,
#                         names in lower case)
#   http_request METHOD URL [BODY] [CURL_ARGS...]  the same for any URL
#   assert_eq EXPECTED ACTUAL MESSAGE
#   assert_contains HAYSTACK NEEDLE MESSAGE
#   assert_json BODY JQ_FILTER MESSAGE   the jq filter must yield true
#   wait_for SECONDS MESSAGE COMMAND...
#   fail MESSAGE
set -euo pipefail

WAGATE_SOURCE_DIR=${WAGATE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WAGATE_BUILD_DIR=${WAGATE_BUILD_DIR:-$WAGATE_SOURCE_DIR/build}
export WAGATE_SOURCE_DIR WAGATE_BUILD_DIR

TEST_NAME=$(basename "$0" .sh)

fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}

pass() {
  echo "ok   [$TEST_NAME]: $*"
}

assert_eq() {
  local expected=$1 actual=$2 message=$3
  if [[ $expected != "$actual" ]]; then
    fail "$message: expected '$expected', got '$actual'${HTTP_BODY:+ (last body: ${HTTP_BODY:0:300})}"
  fi
  pass "$message"
}

assert_contains() {
  local haystack=$1 needle=$2 message=$3
  if [[ $haystack != *"$needle"* ]]; then
    fail "$message: '$needle' not found in '${haystack:0:500}'"
  fi
  pass "$message"
}

assert_json() {
  local body=$1 filter=$2 message=$3 result
  result=$(jq -e "$filter" <<<"$body" 2>&1) ||
    fail "$message: jq '$filter' gave '${result:0:200}' for body '${body:0:500}'"
  pass "$message"
}

# wait_for SECONDS MESSAGE COMMAND...: polls every 0.1 s, fails with MESSAGE.
wait_for() {
  local seconds=$1 deadline=$((SECONDS + $1)) message=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${seconds}s: $message"
    sleep 0.1
  done
}

stack() {
  WAGATE_RUN_DIR=$STACK_RUN_DIR WAGATE_BUILD_DIR=$WAGATE_BUILD_DIR "$WAGATE_SOURCE_DIR/scripts/stack" "$@"
}

load_stack_env() {
  [[ -r $STACK_RUN_DIR/stack.env ]] || fail "no stack.env in $STACK_RUN_DIR"
  set -a
  # shellcheck disable=SC1091
  . "$STACK_RUN_DIR/stack.env"
  set +a
}

# Stops the stack and removes its run directory (and the Postgres directory
# it may link to) whatever way the test ends; keeps the logs of a failed run
# on stderr first.
stack_cleanup() {
  local status=$?
  [[ -n ${STACK_RUN_DIR:-} && -d $STACK_RUN_DIR ]] || return 0
  if [[ $status -ne 0 ]]; then
    local log
    for log in "$STACK_RUN_DIR"/logs/*.log "$STACK_RUN_DIR"/nginx/error.log "$STACK_RUN_DIR"/redis/redis.log \
      "$STACK_RUN_DIR"/pg/postgres.log; do
      [[ -s $log ]] || continue
      echo "----- $log (last lines) -----" >&2
      tail -n 30 "$log" >&2
    done
  fi
  stack destroy >&2 || echo "stack destroy failed for $STACK_RUN_DIR" >&2
  rm -rf "$STACK_RUN_DIR"
}

stack_up() {
  STACK_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wagate-test.XXXXXX")
  export STACK_RUN_DIR
  trap stack_cleanup EXIT
  stack up || fail "scripts/stack up failed"
  load_stack_env
}

# http_request METHOD URL [BODY] [CURL_ARGS...]
http_request() {
  local method=$1 url=$2 body=${3-}
  shift 2
  [[ $# -gt 0 ]] && shift
  local headers_file body_file
  headers_file=$(mktemp)
  body_file=$(mktemp)
  local args=(-s -S -X "$method" --noproxy '*' --max-time 30 -o "$body_file" -D "$headers_file" -w '%{http_code}')
  [[ -n ${WAGATE_CA_CERT:-} ]] && args+=(--cacert "$WAGATE_CA_CERT")
  if [[ $method != GET && $method != HEAD ]]; then args+=(--data-binary "$body"); fi
  HTTP_STATUS=$(curl "${args[@]}" "$@" "$url") || HTTP_STATUS=${HTTP_STATUS:-000}
  HTTP_BODY=$(cat "$body_file")
  HTTP_HEADERS=$(tr -d '\r' <"$headers_file" | awk 'BEGIN { FS = OFS = ": " } { $1 = tolower($1) } 1')
  rm -f "$headers_file" "$body_file"
}

https_get() {
  local path=$1
  shift
  http_request GET "$WAGATE_URL$path" "" "$@"
}

https_post() {
  local path=$1 body=$2
  shift 2
  http_request POST "$WAGATE_URL$path" "$body" "$@"
}

# The processes whose command line names a file in the run directory (or in
# the Postgres directory it links to), this shell and its parent excluded.
stack_processes() {
  local patterns=("$STACK_RUN_DIR/") pg
  pg=$(readlink -f "$STACK_RUN_DIR/pg" 2>/dev/null || true)
  [[ -n $pg && $pg != "$STACK_RUN_DIR/pg" ]] && patterns+=("$pg/")
  local pattern
  for pattern in "${patterns[@]}"; do
    pgrep -af -- "$(printf '%s' "$pattern" | sed 's/[][\\.*^$+?(){}|]/\\&/g')" || true
  done | grep -v -E "^($$|$PPID) " || true
}
