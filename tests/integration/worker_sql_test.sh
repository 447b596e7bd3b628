#!/usr/bin/env bash
# worker_sql_test.sh — the workers' SQL against a throwaway Postgres: gtest binaries bin/rollup_job_test, bin/send_store_test.
#
# Starts its own Postgres (initdb + pg_ctl) on a free loopback port under a
# temporary directory, migrates one database per binary with wagate-admin,
# runs each against its own, and removes everything on exit. Needs
# WAGATE_BUILD_DIR (bin/wagate-admin and the test binaries) and WAGATE_SOURCE_DIR.
set -euo pipefail

BUILD_DIR=${WAGATE_BUILD_DIR:?set WAGATE_BUILD_DIR to the build directory}
SOURCE_DIR=${WAGATE_SOURCE_DIR:?set WAGATE_SOURCE_DIR to the source tree}
ADMIN=$BUILD_DIR/bin/wagate-admin
TESTS=(rollup_job_test send_store_test)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

unset WAGATE_CONFIG WAGATE_PG_DSN

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ -x $ADMIN ]] || fail "$ADMIN not built"
for test in "${TESTS[@]}"; do
  [[ -x $BUILD_DIR/bin/$test ]] || fail "$BUILD_DIR/bin/$test not built"
done

free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if [[ -z $(ss -Hltn "sport = :$port") ]]; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# Postgres refuses to run as root: then the cluster belongs to the postgres
# user, and the temporary directory must be reachable by it.
AS_PG=()
TMP=$(mktemp -d /tmp/wagate-worker-sql.XXXXXX)
if [[ $(id -u) -eq 0 ]]; then
  AS_PG=(runuser -u postgres --)
  chmod 755 "$TMP"
  chown postgres: "$TMP"
fi

cleanup() {
  set +e
  if [[ -f $TMP/pg/postmaster.pid ]]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

PG_PORT=$(free_port)
mkdir -p "$TMP/sock"
[[ ${#AS_PG[@]} -eq 0 ]] || chown postgres: "$TMP/sock"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$TMP/pg" -U postgres -A trust -E UTF8 --no-sync >"$TMP/initdb.log" 2>&1 ||
  { cat "$TMP/initdb.log" >&2; fail "initdb"; }
# Durability is not what is tested here; a throwaway cluster may skip fsync.
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg/server.log" -w -t 60 \
  -o "-p $PG_PORT -k $TMP/sock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
  start >/dev/null || { cat "$TMP/pg/server.log" >&2; fail "pg_ctl start"; }

for test in "${TESTS[@]}"; do
  dsn="host=127.0.0.1 port=$PG_PORT user=postgres dbname=$test"
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" \
    -c "CREATE DATABASE $test"
  WAGATE_PG_DSN=$dsn "$ADMIN" --sql-dir "$SOURCE_DIR/sql" migrate >/dev/null || fail "migrate $test"
  WAGATE_TEST_PG_DSN=$dsn "$BUILD_DIR/bin/$test" || fail "$test"
  echo "ok - $test"
done
