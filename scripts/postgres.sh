#!/usr/bin/env bash
# A project-local PostgreSQL: cluster in .dev/postgres, TCP on 127.0.0.1 only,
# password auth with a generated password, schema migrations applied at start.
#   postgres.sh start | stop | status | dsn | purge
# As root, the server runs as the 'postgres' user; when that user cannot reach
# .dev (a checkout under a private home, say), the cluster's files live in
# /var/tmp/prazium-postgres/<digest> and .dev/postgres/data links to them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PG=$DEV_DIR/postgres
DATA=$PG/data
PWFILE=$PG/password
# The server's own view of its files: resolved, since it may not be able to
# traverse .dev to follow the link.
real_data() { readlink -f "$DATA"; }
DB=prazium
DB_USER=prazium

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  command -v pg_ctl >/dev/null && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}
BIN=$(pg_bin) || die "PostgreSQL server binaries not found; run 'make setup' (installs Debian's postgresql)"

# PostgreSQL refuses to run as root; as root, run it as the 'postgres' user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (Debian's postgresql package creates it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

dsn() {
  printf 'postgresql://%s:%s@127.0.0.1:%s/%s' "$DB_USER" "$(cat "$PWFILE")" "$(cat "$PG/port")" "$DB"
}

init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  say "initialising a PostgreSQL cluster in ${PG#"$PRAZIUM_ROOT"/}"
  purge
  rm -rf "$PG"; mkdir -p "$PG"
  python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$PWFILE"
  chmod 600 "$PWFILE"
  local home=$PG/server
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$PG"; then
    home=/var/tmp/prazium-postgres/$(echo "$PG" | sha256sum | cut -c1-16)
    rm -rf "$home"
  fi
  mkdir -p "$home"
  ln -sfn "$home/data" "$DATA"
  cp "$PWFILE" "$home/pwfile"
  [ "$(id -u)" = 0 ] && chown -R postgres "$home"
  as_pg "$BIN/initdb" -D "$home/data" -U "$DB_USER" --pwfile="$home/pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG/initdb.log" 2>&1 \
    || { tail -n 20 "$PG/initdb.log" >&2; die "initdb failed"; }
  rm -f "$home/pwfile"
}

# purge: remove the cluster's files (also when they live outside .dev).
purge() {
  local target
  target=$(readlink "$DATA" 2>/dev/null) || return 0
  rm -rf "$(dirname "$target")"
}

running() { [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$(real_data)" status >/dev/null 2>&1; }

start() {
  if running; then
    say "PostgreSQL already running on 127.0.0.1:$(cat "$PG/port")"
  else
    init_cluster
    close_to_pods
    require_port "$PRAZIUM_PG_PORT" PostgreSQL
    echo "$PRAZIUM_PG_PORT" >"$PG/port"
    local log
    log="$(dirname "$(real_data)")/postgres.log"
    as_pg "$BIN/pg_ctl" -D "$(real_data)" -l "$log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $PRAZIUM_PG_PORT -c unix_socket_directories='' -c fsync=off -c max_connections=200" \
      >/dev/null || { tail -n 20 "$log" >&2; die "PostgreSQL did not start (log: $log)"; }
    say "PostgreSQL ready on 127.0.0.1:$PRAZIUM_PG_PORT"
  fi
  PGPASSWORD=$(cat "$PWFILE") "$BIN/psql" -qAt -h 127.0.0.1 -p "$(cat "$PG/port")" -U "$DB_USER" -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
    || PGPASSWORD=$(cat "$PWFILE") "$BIN/createdb" -h 127.0.0.1 -p "$(cat "$PG/port")" -U "$DB_USER" "$DB"
  PRAZIUM_DATABASE_URL=$(dsn) "$PRAZIUM_PYTHON" -m prazium_kit.db >&2
}

stop() {
  if [ -f "$DATA/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$(real_data)" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || as_pg "$BIN/pg_ctl" -D "$(real_data)" -m immediate -w stop >/dev/null 2>&1 || true
    say "stopped PostgreSQL"
  fi
}

# Only this machine's own processes log in (TCP on 127.0.0.1): drop the host lines an
# earlier version added for the node's Pod network (they now reach no PostgreSQL
# port at all; the chart runs its own PostgreSQL in a Pod).
close_to_pods() {
  local hba
  hba="$(real_data)/pg_hba.conf"
  as_pg grep -qE '^host all all 10\.[0-9.]+/[0-9]+ scram-sha-256$' "$hba" || return 0
  as_pg sed -i -E '/^host all all 10\.[0-9.]+\/[0-9]+ scram-sha-256$/d' "$hba"
  [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$(real_data)" reload >/dev/null
  return 0
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running && echo "postgres: running on 127.0.0.1:$(cat "$PG/port")" || { echo "postgres: not running"; exit 1; } ;;
  dsn) dsn ;;
  purge) stop; purge ;;
  *) echo "usage: $0 start|stop|status|dsn" >&2; exit 2 ;;
esac
