# A private PostgreSQL server for the test suite: its own data directory and port on loopback,
# started by us and therefore stopped by us. A PostgreSQL the machine already runs is left alone.

PG_TEST_DIR=""

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a PostgreSQL tool as the postgres user when we are root (initdb refuses to run as root).
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_test_postgres() {
  ensure_apt postgresql
  local bin port
  bin="$(pg_bindir)"
  [ -n "$bin" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
  PG_TEST_DIR="$(mktemp -d /tmp/flightdeck-test-pg.XXXXXX)"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_TEST_DIR"
  port="$(free_port)"
  say "Starting a private PostgreSQL on 127.0.0.1:$port"
  pg_as_owner "$bin/initdb" -D "$PG_TEST_DIR/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
  # fsync off: this cluster holds only throw-away test databases.
  pg_as_owner "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/log" -w -t 60 \
    -o "-p $port -k $PG_TEST_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null
  export FLIGHTDECK_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_test_postgres() {
  [ -n "$PG_TEST_DIR" ] || return 0
  pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TEST_DIR"
  PG_TEST_DIR=""
}
