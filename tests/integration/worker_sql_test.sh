#!/usr/bin/env bash
# worker_sql_test.sh — the workers' SQL against a throwaway Postgres: gtest binaries bin/rollup_job_test, bin/send_store_test, bin/distribution_sql_test.
#
# Starts its own Postgres (initdb + pg_ctl) on a free loopback port under a
# temporary directory, migrates one database per binary with wagate-admin,
# runs each against its own, and removes everything on exit. Needs
# WAGATE_BUILD_DIR (bin/wagate-admin and the test binaries) and WAGATE_SOURCE_DIR.
set -euo pipefail

BUILD_DIR=${WAGATE_BUILD_DIR:?set WAGATE_BUILD_DIR to the build directory}
SOURCE_DIR=${WAGATE_SOURCE_DIR:?set WAGATE_SOURCE_DIR to the source tree}
ADMIN=$BUILD_DIR/bin/wagate-admin
TESTS=(rollup_job_test send_store_test distribution_sql_test)

unset WAGATE_CONFIG WAGATE_PG_DSN

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ -x $ADMIN ]] || fail "$ADMIN not built"
for test in "${TESTS[@]}"; do
  [[ -x $BUILD_DIR/bin/$test ]] || fail "$BUILD_DIR/bin/$test not built"
done

. "$(dirname "$0")/temp_postgres.sh"
TMP=$(temp_dir wagate-worker-sql)

cleanup() {
  set +e
  temp_postgres_stop "$TMP"
  rm -rf "$TMP"
}
trap cleanup EXIT

temp_postgres_start "$TMP" || fail "the temporary Postgres did not start"

for test in "${TESTS[@]}"; do
  dsn="host=127.0.0.1 port=$PG_PORT user=postgres dbname=$test"
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" \
    -c "CREATE DATABASE $test"
  WAGATE_PG_DSN=$dsn "$ADMIN" --sql-dir "$SOURCE_DIR/sql" migrate >/dev/null || fail "migrate $test"
  WAGATE_TEST_PG_DSN=$dsn "$BUILD_DIR/bin/$test" || fail "$test"
  echo "ok - $test"
done
