#!/usr/bin/env bash
# migrations_test.sh — `wagate-admin migrate` against a throwaway Postgres, then the live Postgres/Redis client tests.
#
# Starts its own Postgres (initdb + pg_ctl) and Redis on free loopback ports
# under a temporary directory, and removes both on exit. Needs
# WAGATE_BUILD_DIR (bin/wagate-admin, bin/db_clients_test) and WAGATE_SOURCE_DIR.
set -euo pipefail

BUILD_DIR=${WAGATE_BUILD_DIR:?set WAGATE_BUILD_DIR to the build directory}
SOURCE_DIR=${WAGATE_SOURCE_DIR:?set WAGATE_SOURCE_DIR to the source tree}
ADMIN=$BUILD_DIR/bin/wagate-admin
CLIENTS_TEST=$BUILD_DIR/bin/db_clients_test
SQL_DIR=$SOURCE_DIR/sql

# The migrate runs below must see only what this script gives them.
unset WAGATE_CONFIG WAGATE_PG_DSN

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
pass() { echo "ok - $*"; }

[[ -x $ADMIN ]] || fail "$ADMIN not built"
[[ -x $CLIENTS_TEST ]] || fail "$CLIENTS_TEST not built"

. "$(dirname "$0")/temp_postgres.sh"
TMP=$(temp_dir wagate-migrations)

cleanup() {
  set +e
  temp_postgres_stop "$TMP"
  if [[ -f $TMP/redis.pid ]]; then
    kill "$(cat "$TMP/redis.pid")" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$(cat "$TMP/redis.pid" 2>/dev/null)" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- Postgres ------------------------------------------------------------------
temp_postgres_start "$TMP" || fail "the temporary Postgres did not start"

dsn() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=$1"; }
q() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(dsn "$1")" -c "$2"; }
# Recent pg_dump releases wrap the dump in \restrict/\unrestrict lines with a
# random key; those lines are not schema and differ on every run.
dump() { "$PG_BIN/pg_dump" --schema-only -d "$(dsn "$1")" | sed -E '/^\\(un)?restrict /d'; }
for db in wagate_test wagate_race wagate_bad wagate_upgrade wagate_clients; do q postgres "CREATE DATABASE $db"; done

# --- Redis ---------------------------------------------------------------------
mkdir -p "$TMP/redis"
redis_up() {
  [[ $(redis-cli -p "$REDIS_PORT" -a testpass --no-auth-warning ping 2>/dev/null) == PONG ]]
}
# A free port can be taken by another test between the check and the bind:
# then the server exits at once, and another port is tried.
for _ in 1 2 3; do
  REDIS_PORT=$(free_port)
  cat >"$TMP/redis.conf" <<EOF
port $REDIS_PORT
bind 127.0.0.1
daemonize yes
pidfile $TMP/redis.pid
logfile $TMP/redis.log
dir $TMP/redis
save ""
appendonly no
requirepass testpass
EOF
  redis-server "$TMP/redis.conf"
  for _ in $(seq 1 100); do
    redis_up && break
    sleep 0.1
  done
  redis_up && break
done
redis_up || { tail -n 20 "$TMP/redis.log" >&2; fail "redis-server did not start"; }

# --- migrate on an empty database -------------------------------------------
files=$(cd "$SQL_DIR" && ls [0-9]*_*.sql | sort -n)
file_count=$(echo "$files" | wc -l)
[[ $file_count -ge 1 ]] || fail "no migrations in $SQL_DIR"

# First run through a config file, later ones through the environment only.
echo "pg_dsn = $(dsn wagate_test)" >"$TMP/wagate.conf"
out=$("$ADMIN" --config "$TMP/wagate.conf" migrate)
expected=$(echo "$files" | sed 's/^/applied /')
[[ $out == "$expected" ]] || fail "first migrate printed:
$out
expected:
$expected"
pass "migrate on an empty database applies every file in order"

for table in tenants api_keys messages messages_default message_index status_events conversations contact_events \
  idempotency_keys distributions distribution_recipients distribution_links schema_migrations; do
  [[ $(q wagate_test "SELECT to_regclass('$table') IS NOT NULL") == t ]] || fail "table $table missing"
done
# 001's campaign placeholders are replaced by distributions (007).
for table in campaigns campaign_recipients; do
  [[ $(q wagate_test "SELECT to_regclass('$table') IS NULL") == t ]] || fail "table $table should be gone"
done
[[ $(q wagate_test "SELECT string_agg(attname, ',' ORDER BY attname) FROM pg_attribute
  WHERE attrelid = 'messages_default'::regclass AND attname IN ('campaign_id', 'distribution_id') AND NOT attisdropped") \
  == distribution_id ]] || fail "messages (and its partitions) should have distribution_id and no campaign_id"
[[ $(q wagate_test "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass") -eq 6 ]] ||
  fail "expected 6 partitions of messages (default, last month .. +3)"
for offset in -1 0 3; do
  name=messages_$(q wagate_test "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '$offset month', 'YYYY_MM')")
  [[ $(q wagate_test "SELECT to_regclass('$name') IS NOT NULL") == t ]] || fail "partition $name missing"
done
pass "tables and monthly partitions exist"

recorded=$(q wagate_test "SELECT lpad(version::text, 3, '0') || ' ' || checksum FROM schema_migrations ORDER BY version")
computed=$(cd "$SQL_DIR" && for f in $files; do echo "${f%%_*} $(sha256sum "$f" | cut -d' ' -f1)"; done)
[[ $recorded == "$computed" ]] || fail "schema_migrations rows:
$recorded
expected (version, sha256 of the file):
$computed"
pass "schema_migrations has one row per file with its sha256"

dump wagate_test >"$TMP/before.sql"
grep -q 'CREATE TABLE public.messages_default' "$TMP/before.sql" || fail "pg_dump did not dump the schema"
out=$(WAGATE_PG_DSN=$(dsn wagate_test) "$ADMIN" --sql-dir "$SQL_DIR" migrate)
[[ $out == "nothing to apply" ]] || fail "second migrate printed: $out"
dump wagate_test >"$TMP/after.sql"
diff -u "$TMP/before.sql" "$TMP/after.sql" >&2 || fail "second migrate changed the schema"
pass "second migrate applies nothing and leaves the schema byte-identical"

out=$(WAGATE_PG_DSN=$(dsn wagate_test) "$ADMIN" migrate --status)
[[ $(echo "$out" | grep -c ' applied ') -eq $file_count ]] || fail "migrate --status: $out"
pass "migrate --status lists every file as applied"

# --- an applied file was edited ------------------------------------------------
cp -r "$SQL_DIR" "$TMP/sql-modified"
echo "-- edited after it was applied" >>"$TMP/sql-modified/001_initial.sql"
echo "CREATE TABLE must_not_exist (x int);" >"$TMP/sql-modified/900_new.sql"
rc=0
out=$(WAGATE_PG_DSN=$(dsn wagate_test) "$ADMIN" --sql-dir "$TMP/sql-modified" migrate 2>&1) || rc=$?
[[ $rc -eq 1 ]] || fail "migrate with an edited 001 exited $rc: $out"
[[ $out == "wagate-admin: "*"001_initial.sql"* ]] || fail "error does not name the file: $out"
[[ $(q wagate_test "SELECT to_regclass('must_not_exist') IS NULL") == t ]] || fail "a pending migration ran"
[[ $(q wagate_test "SELECT count(*) FROM schema_migrations") -eq $file_count ]] || fail "schema_migrations changed"
dump wagate_test >"$TMP/after-refusal.sql"
diff -u "$TMP/before.sql" "$TMP/after-refusal.sql" >&2 || fail "the refused migrate changed the schema"
out=$(WAGATE_PG_DSN=$(dsn wagate_test) "$ADMIN" --sql-dir "$TMP/sql-modified" migrate --status)
echo "$out" | grep -q '^001  001_initial.sql .* changed ' || fail "--status does not flag the edited file: $out"
echo "$out" | grep -q '^900  900_new.sql .* pending$' || fail "--status does not list the new file: $out"
pass "an edited applied file is refused by name and nothing is applied"

# --- partitions ----------------------------------------------------------------
q wagate_test "INSERT INTO tenants (name, account_sid, auth_token_enc)
               VALUES ('t', 'AC0123456789abcdef0123456789abcdef', '\\x00')" >/dev/null
far=$(q wagate_test "INSERT INTO messages (tenant_id, created_at, direction, status, status_rank)
                     SELECT tenant_id, now() + interval '5 years', 'outbound', 'accepted', 10 FROM tenants
                     RETURNING id")
[[ $(q wagate_test "SELECT tableoid::regclass FROM messages WHERE id = '$far'") == messages_default ]] ||
  fail "a message five years ahead did not land in messages_default"
# Creating that month's partition later moves the row out of the default.
q wagate_test "SELECT wagate_ensure_message_partitions(((now() + interval '5 years') AT TIME ZONE 'UTC')::date, 1)" \
  >/dev/null
month=$(q wagate_test "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY_MM') FROM messages WHERE id = '$far'")
[[ $(q wagate_test "SELECT tableoid::regclass FROM messages WHERE id = '$far'") == "messages_$month" ]] ||
  fail "the row did not move to messages_$month"
[[ $(q wagate_test "SELECT count(*) FROM messages_default") -eq 0 ]] || fail "messages_default not emptied"
pass "an insert without a monthly partition lands in messages_default, and moves when the partition appears"

# --- two migrate runs at once --------------------------------------------------
WAGATE_PG_DSN=$(dsn wagate_race) "$ADMIN" migrate >"$TMP/race1.out" 2>&1 &
race1=$!
WAGATE_PG_DSN=$(dsn wagate_race) "$ADMIN" migrate >"$TMP/race2.out" 2>&1 &
race2=$!
wait "$race1" || fail "concurrent migrate 1 failed: $(cat "$TMP/race1.out")"
wait "$race2" || fail "concurrent migrate 2 failed: $(cat "$TMP/race2.out")"
[[ $(cat "$TMP/race1.out" "$TMP/race2.out" | grep -c '^applied ') -eq $file_count ]] ||
  fail "concurrent runs applied a file twice or not at all: $(cat "$TMP/race1.out" "$TMP/race2.out")"
[[ $(q wagate_race "SELECT count(*) FROM schema_migrations") -eq $file_count ]] || fail "race: schema_migrations"
pass "two concurrent migrate runs serialise and apply each file once"

# --- an upgrade over a rolled-up history --------------------------------------
# 005 adds a per-period table of status counts that the delivery-metrics
# series reads; an installation upgraded with rollups in place must get it
# filled from them, equal to their sums, not empty until a full re-run.
mkdir "$TMP/sql-004"
cp "$SQL_DIR"/00[1-4]_*.sql "$TMP/sql-004/"
WAGATE_PG_DSN=$(dsn wagate_upgrade) "$ADMIN" --sql-dir "$TMP/sql-004" migrate >/dev/null
q wagate_upgrade "INSERT INTO tenants (name, account_sid, auth_token_enc)
                  VALUES ('t', 'AC0123456789abcdef0123456789abcdef', '\\x00')" >/dev/null
q wagate_upgrade "INSERT INTO delivery_rollup_counts (tenant_id, period, period_start, sender, status, error_code,
                                                      messages, timed, delivery_ms_sum)
                  SELECT tenant_id, p, s, snd, st, code, n, 0, 0 FROM tenants,
                         (VALUES ('hour', '2026-01-05 10:00Z'::timestamptz, '*', 'failed', 63016, 4),
                                 ('hour', '2026-01-05 10:00Z', '*', 'failed', 30003, 3),
                                 ('hour', '2026-01-05 10:00Z', '*', 'read', 0, 9),
                                 ('hour', '2026-01-05 10:00Z', 'whatsapp:+15550001', 'read', 0, 9),
                                 ('hour', '2026-01-05 11:00Z', '*', 'delivered', 0, 2),
                                 ('day', '2026-01-05 00:00Z', '*', 'failed', 63016, 4),
                                 ('day', '2026-01-05 00:00Z', '*', 'failed', 30003, 3),
                                 ('day', '2026-01-05 00:00Z', '*', 'read', 0, 9),
                                 ('day', '2026-01-05 00:00Z', '*', 'delivered', 0, 2)) v(p, s, snd, st, code, n)" \
  >/dev/null
out=$(WAGATE_PG_DSN=$(dsn wagate_upgrade) "$ADMIN" --sql-dir "$SQL_DIR" migrate)
[[ $out == *"applied 005_rollup_statuses.sql"* ]] || fail "upgrade migrate printed: $out"
got=$(q wagate_upgrade "SELECT period || ' ' || to_char(period_start AT TIME ZONE 'UTC', 'DD HH24') || ' ' || sender
                        || ' ' || statuses::text || ' ' || messages::text FROM delivery_rollup_statuses
                        ORDER BY period, period_start, sender")
want="day 05 00 * {delivered,failed,read} {2,7,9}
hour 05 10 * {failed,read} {7,9}
hour 05 10 whatsapp:+15550001 {read} {9}
hour 05 11 * {delivered} {2}"
[[ $got == "$want" ]] || fail "005 filled delivery_rollup_statuses with:
$got
expected:
$want"
pass "an upgrade fills the series rollup from the rollup already there"

# --- a migration the server rejects -------------------------------------------
mkdir "$TMP/sql-bad"
printf 'CREATE TABLE first_half (x int);\n\nCREATE TABLE second_half (y no_such_type);\n' >"$TMP/sql-bad/001_bad.sql"
rc=0
out=$(WAGATE_PG_DSN=$(dsn wagate_bad) "$ADMIN" --sql-dir "$TMP/sql-bad" migrate 2>&1) || rc=$?
[[ $rc -eq 1 && $out == *"001_bad.sql:3: "*"no_such_type"* ]] || fail "bad migration: exit $rc: $out"
[[ $(q wagate_bad "SELECT to_regclass('first_half') IS NULL") == t ]] || fail "half a migration was committed"
[[ $(q wagate_bad "SELECT count(*) FROM schema_migrations") -eq 0 ]] || fail "a failed migration was recorded"
pass "a rejected migration names file and line and leaves nothing behind"

# --- command line --------------------------------------------------------------
rc=0
out=$("$ADMIN" no-such-command 2>&1) || rc=$?
[[ $rc -eq 2 && $out == *"unknown command"*"migrate"* ]] || fail "unknown command: exit $rc: $out"
rc=0
out=$("$ADMIN" help 2>&1) || rc=$?
[[ $rc -eq 0 && $out == *"usage: wagate-admin"*"migrate"* ]] || fail "help: exit $rc: $out"
closed=$(free_port)
rc=0
out=$(WAGATE_PG_DSN="host=127.0.0.1 port=$closed user=x password=hunter2 dbname=x" "$ADMIN" migrate 2>&1) || rc=$?
[[ $rc -eq 1 && $out == "wagate-admin: postgres: connection failed: "* && $out != *hunter2* ]] ||
  fail "unreachable database: exit $rc: $out"
rc=0
out=$("$ADMIN" --config "$TMP/no-such.conf" migrate 2>&1) || rc=$?
[[ $rc -eq 1 && $out == "wagate-admin: "*"no-such.conf"* ]] || fail "missing --config file: exit $rc: $out"
pass "usage errors exit 2, failures exit 1 with one wagate-admin: line and no password"

# --- the client libraries against these servers ---------------------------------
WAGATE_TEST_PG_DSN=$(dsn wagate_clients) \
  WAGATE_TEST_REDIS_URL="redis://:testpass@127.0.0.1:$REDIS_PORT/1" \
  WAGATE_TEST_REDIS_CONF="$TMP/redis.conf" \
  "$CLIENTS_TEST" --gtest_brief=1 || fail "db_clients_test"
pass "pg and redis clients against live servers"

echo "migrations_test: all passed"
