#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and local runs, no Docker: Debian's
# server binaries, our own data directory, 127.0.0.1 only, trust auth.
#
#   infra/postgres/postgres.sh up | down | status | pid | url NAME | reset NAME
#
#   up          install the server binaries if absent (apt-get, as root),
#               initdb once, start, wait for pg_isready, then make sure the
#               role `fooddelivery` and the service databases exist.
#               Running it again is a no-op.
#   down        stop the server (fast shutdown); a no-op when stopped.
#   status      "running ..." (exit 0) or "stopped" (exit 1).
#   pid         the server's (postmaster's) pid; exit 1 when stopped.
#   url NAME    print the connection URL of database NAME.
#   reset NAME  drop database NAME (kicking its sessions) and recreate it
#               empty, owned by `fooddelivery`; starts the server if needed.
#
# PG_PORT (default 55432) and PG_HOME (default .local/postgres-$PG_PORT) let
# several servers live side by side; PG_BIN forces a binaries directory;
# PG_START_TIMEOUT (default 60) bounds the wait for readiness.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${PG_PORT:-55432}"
HOST=127.0.0.1
HOME_DIR="${PG_HOME:-$ROOT/.local/postgres-$PORT}"
case "$HOME_DIR" in /*) ;; *) HOME_DIR="$PWD/$HOME_DIR" ;; esac
DATA="$HOME_DIR/data"
LOG_FILE="$HOME_DIR/postgres.log"
START_TIMEOUT="${PG_START_TIMEOUT:-60}"
OS_USER=postgres      # runs the server when we are root (postgres refuses root)
SUPERUSER=postgres    # database superuser created by initdb
APP_ROLE=fooddelivery
APP_PASSWORD=fooddelivery
DATABASES=(order_service store_service delivery_service mypage_service identity_service)

log() { echo "[postgres:$PORT] $*" >&2; }
die() { log "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the OS user that owns the cluster.
# From / so an unreadable working directory (e.g. /root) cannot trip it up.
as_owner() {
  if is_root; then (cd / && runuser -u "$OS_USER" -- "$@"); else "$@"; fi
}

# ---------------------------------------------------------------- binaries --

# Prints the bin directory to use: PG_BIN, else the one matching an existing
# data directory's major version, else the newest installed one.
find_bindir() {
  if [ -n "${PG_BIN:-}" ]; then
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && { echo "$PG_BIN"; return 0; }
    return 1
  fi
  if [ -f "$DATA/PG_VERSION" ]; then
    local want; want="$(cat "$DATA/PG_VERSION")"
    local dir="/usr/lib/postgresql/$want/bin"
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  fi
  local dir best=""
  # Version-sorted, so the last match is the newest major.
  while IFS= read -r dir; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then best="$dir"; fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
  [ -n "$best" ] && { echo "$best"; return 0; }
  return 1
}

install_server() {
  is_root || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install the Debian package 'postgresql' (as root) or set PG_BIN"
  command -v apt-get >/dev/null || die "no server binaries and no apt-get; install PostgreSQL or set PG_BIN"
  log "installing Debian's postgresql package (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Debian's package would create and start its own 'main' cluster on 5432.
  # We use our own data directory, so: no main cluster, and no service starts
  # during installation (policy-rc.d 101 = "action forbidden").
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/50-no-main-cluster.conf
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; ours=1
  fi
  local rc=0
  {
    apt-get update -qq &&
    # postgresql-common first: it ships createcluster.conf; older releases
    # lack the createcluster.d include, so set the switch in the file itself.
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold postgresql-common >/dev/null &&
    if ! grep -q "createcluster.d" /etc/postgresql-common/createcluster.conf 2>/dev/null; then
      sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf
    fi &&
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold postgresql >/dev/null
  } || rc=$?
  if [ "$ours" = 1 ]; then rm -f "$policy"; fi
  [ "$rc" = 0 ] || die "apt-get install postgresql failed (rc=$rc)"
}

BIN=""
ensure_binaries() {
  if BIN="$(find_bindir)"; then return 0; fi
  [ -z "${PG_BIN:-}" ] || die "PG_BIN=$PG_BIN has no initdb/pg_ctl"
  install_server
  BIN="$(find_bindir)" || die "postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
}

# ------------------------------------------------------------------ layout --

# As root the server runs as $OS_USER, which must be able to reach $HOME_DIR:
# every ancestor directory needs the search (x) bit for it.
ensure_traversable() {
  is_root || return 0
  local dir="$1"
  while [ "$dir" != "/" ] && [ -n "$dir" ]; do
    if [ -d "$dir" ] && ! runuser -u "$OS_USER" -- test -x "$dir"; then
      log "making $dir traversable for $OS_USER (chmod o+x)"
      chmod o+x "$dir"
    fi
    dir="$(dirname "$dir")"
  done
}

ensure_layout() {
  if is_root; then
    id "$OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin "$OS_USER"
  fi
  mkdir -p "$HOME_DIR"
  if is_root; then chown "$OS_USER:" "$HOME_DIR"; fi
  chmod 700 "$HOME_DIR"
  ensure_traversable "$(dirname "$HOME_DIR")"
}

ensure_initdb() {
  if [ -f "$DATA/PG_VERSION" ]; then return 0; fi
  log "initdb into $DATA ($BIN)"
  rm -rf "$DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" -E UTF8 --locale=C \
    --auth-local=trust --auth-host=trust >"$HOME_DIR/initdb.log" 2>&1 \
    || { tail -20 "$HOME_DIR/initdb.log" >&2; die "initdb failed"; }
  # Loopback TCP only; no Unix socket (so nothing depends on /run/postgresql).
  cat > "$DATA/pg_hba.conf" <<'HBA'
# Throwaway test server: trust, loopback only.
host    all  all  127.0.0.1/32  trust
host    all  all  ::1/128       trust
HBA
  echo "include_if_exists = 'fooddelivery.conf'" >> "$DATA/postgresql.conf"
  if is_root; then chown "$OS_USER:" "$DATA/pg_hba.conf" "$DATA/postgresql.conf"; fi
}

# Regenerated on every start so PG_PORT always wins.
write_config() {
  cat > "$DATA/fooddelivery.conf" <<CONF
# Written by infra/postgres/postgres.sh on every 'up'.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = ''
max_connections = 300  # the bench: nine processes, pools of 20 (+10 overflow); and the tests'
# Throwaway data: trade durability for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  if is_root; then chown "$OS_USER:" "$DATA/fooddelivery.conf"; fi
}

# ----------------------------------------------------------------- process --

# Alive and not a zombie (a killed server can linger as one where nothing
# reaps orphans).
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

server_pid() {
  [ -f "$DATA/postmaster.pid" ] || return 1
  local pid; pid="$(head -1 "$DATA/postmaster.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # A stale pid file whose pid was reused by something else is not our server.
  grep -q "postgres" "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

running() { server_pid >/dev/null; }

# True when the pid file names a process that is gone (the server exited).
pid_file_dead() {
  local pid; pid="$(head -1 "$DATA/postmaster.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  ! alive "$pid"
}

pg_isready_bin() {
  if [ -n "$BIN" ] && [ -x "$BIN/pg_isready" ]; then echo "$BIN/pg_isready"; else echo pg_isready; fi
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) grace=$((SECONDS + 5)) isready
  isready="$(pg_isready_bin)"
  # `running` too: an answer from some other server on the port is not ours.
  until running && "$isready" -q -h "$HOST" -p "$PORT" -d postgres -U "$SUPERUSER" -t 2; do
    # Just after `pg_ctl start` the pid file may not exist yet: a missing one
    # only counts as "exited" after a grace period; a dead pid at once.
    if ! running && { pid_file_dead || [ $SECONDS -ge $grace ]; }; then
      log "server exited; last lines of $LOG_FILE:"
      tail -20 "$LOG_FILE" >&2 || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then log "no answer after ${START_TIMEOUT}s (see $LOG_FILE)"; exit 1; fi
    sleep 0.2
  done
}

# Runs the SQL script on stdin as the superuser.
psql_admin() {
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U "$SUPERUSER" -d postgres
}

ensure_databases() {
  local list="" db
  for db in "${DATABASES[@]}"; do list+="${list:+,}'$db'"; done
  psql_admin >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') THEN
    CREATE ROLE $APP_ROLE LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
  END IF;
END
\$\$;
SELECT format('CREATE DATABASE %I OWNER $APP_ROLE', d)
  FROM unnest(ARRAY[$list]) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
\gexec
SQL
}

# Serialise concurrent invocations (parallel test sessions calling `up`).
lock() {
  mkdir -p "$(dirname "$HOME_DIR")"
  exec 9>"$HOME_DIR.lock"
  flock -w 120 9 || die "could not lock $HOME_DIR.lock"
}

up() {
  lock
  ensure_binaries
  ensure_layout
  ensure_initdb
  if running; then
    wait_ready
  else
    write_config
    # Left behind by a crash or reboot; postgres would refuse to start if its
    # pid now belongs to another process.
    rm -f "$DATA/postmaster.pid"
    log "starting (data in $DATA)"
    # -W: we wait ourselves, with pg_isready against our deadline below.
    # 9>&-: the server must not inherit (and so hold) our lock.
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG_FILE" -W start >/dev/null 9>&-
    wait_ready
  fi
  ensure_databases
  log "ready on $HOST:$PORT"
}

down() {
  lock
  if ! running; then log "not running"; return 0; fi
  local pid; pid="$(server_pid)"
  BIN="$(find_bindir)" || true
  log "stopping (pid $pid)"
  if [ -n "$BIN" ]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  else
    kill -INT "$pid" 2>/dev/null || true
  fi
  local deadline=$((SECONDS + 60))
  while alive "$pid"; do
    if [ $SECONDS -ge $deadline ]; then kill -QUIT "$pid" 2>/dev/null || true; break; fi
    sleep 0.2
  done
}

status() {
  if running; then
    echo "running (pid $(server_pid)) on $HOST:$PORT, data in $DATA"
  else
    echo "stopped"; exit 1
  fi
}

check_name() {
  [ -n "${1:-}" ] || { echo "usage: $0 ${2} NAME" >&2; exit 2; }
  [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "invalid database name '$1' (lowercase letters, digits, _)"
}

url() {
  check_name "${1:-}" url
  echo "postgresql://$APP_ROLE:$APP_PASSWORD@$HOST:$PORT/$1"
}

reset() {
  check_name "${1:-}" reset
  local name="$1"
  case "$name" in postgres|template0|template1) die "refusing to reset '$name'";; esac
  ( up )
  lock
  BIN="$(find_bindir)"
  psql_admin >/dev/null <<SQL
DROP DATABASE IF EXISTS "$name" WITH (FORCE);
CREATE DATABASE "$name" OWNER $APP_ROLE;
SQL
  log "database $name reset"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  pid) server_pid ;;
  url) url "${2:-}" ;;
  reset) reset "${2:-}" ;;
  *) echo "usage: $0 up|down|status|pid|url NAME|reset NAME" >&2; exit 2 ;;
esac
