# temp_postgres.sh — a throwaway Postgres cluster on a free loopback port, for tests that need only Postgres.
# shellcheck shell=bash disable=SC2034  # AS_PG, PG_PORT and PG_BIN are read by the tests that source this file
#
#   free_port                  prints a loopback TCP port nobody listens on
#   temp_dir NAME              prints a new temporary directory the postgres
#                              user can use (Postgres refuses to run as root:
#                              as root the cluster belongs to postgres)
#   temp_postgres_start DIR    initdb + pg_ctl start in DIR/pg, listening on
#                              127.0.0.1:$PG_PORT (set here); fsync off: a
#                              throwaway cluster's durability is not tested
#   temp_postgres_stop DIR     immediate stop, when it runs
#
# AS_PG is the command prefix that runs a program as the cluster's owner.

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
AS_PG=()
[[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)

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

temp_dir() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  if [[ ${#AS_PG[@]} -gt 0 ]]; then
    chmod 755 "$dir"
    chown postgres: "$dir"
    # A TMPDIR the postgres user cannot reach (a private home): fall back to /tmp.
    if ! "${AS_PG[@]}" test -w "$dir"; then
      rm -rf "$dir"
      dir=$(mktemp -d "/tmp/$1.XXXXXX")
      chmod 755 "$dir"
      chown postgres: "$dir"
    fi
  fi
  echo "$dir"
}

temp_postgres_start() {
  local dir=$1
  PG_PORT=$(free_port)
  mkdir -p "$dir/sock"
  [[ ${#AS_PG[@]} -eq 0 ]] || chown postgres: "$dir/sock"
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
    start >/dev/null || { cat "$dir/pg/server.log" >&2; return 1; }
}

temp_postgres_stop() {
  local dir=$1
  if [[ -f $dir/pg/postmaster.pid ]]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1
  fi
}
