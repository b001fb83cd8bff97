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

# A PostgreSQL container image for the image tests (end2end/tests/image.rs), made from this
# machine's own PostgreSQL because no registry is reachable here to pull postgres:15 from: its
# binaries and share files, the libraries they link, busybox for the entry script's shell, and a
# UTC zone. Like the official image it takes POSTGRES_PASSWORD, POSTGRES_USER and POSTGRES_DB,
# initialises /var/lib/postgresql/data on first start, and has pg_isready on its PATH. Built once
# per tag: change the tag when this recipe changes, so machines that have the old one build it.
POSTGRES_TEST_IMAGE="flightdeck-test/postgres:3"
ensure_postgres_image() {
  docker image inspect "$POSTGRES_TEST_IMAGE" >/dev/null 2>&1 && return 0
  ensure_apt postgresql busybox-static
  local bin version root libs
  bin="$(pg_bindir)"
  version="$(basename "$(dirname "$bin")")"
  root="$(mktemp -d /tmp/flightdeck-pg-image.XXXXXX)"
  say "Building $POSTGRES_TEST_IMAGE from this machine's PostgreSQL $version"
  mkdir -p "$root"/{bin,etc,tmp,var/lib/postgresql/data}
  cp /bin/busybox "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  # The dynamic loader and every library the server, initdb and the server's modules link
  # (-h: the files, not their symlinks).
  libs="$(ldd "$bin/postgres" "$bin/initdb" "$bin/pg_isready" "/usr/lib/postgresql/$version/lib/"*.so 2>/dev/null |
          awk '$2 == "=>" && $3 ~ /^\// { print substr($3, 2) } $1 ~ /^\/lib/ { print substr($1, 2) }' |
          sort -u)"
  # shellcheck disable=SC2086 # one path per word
  tar -C / -ch $libs | tar -C "$root" -x
  tar -C / -c "usr/lib/postgresql/$version" "usr/share/postgresql/$version" \
    usr/share/zoneinfo/UTC usr/share/zoneinfo/Etc | tar -C "$root" -x
  printf 'root:x:0:0::/:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\npostgres:x:999:\n' >"$root/etc/group"
  cat >"$root/entrypoint.sh" <<SCRIPT
#!/bin/sh
set -e
export PATH=/usr/lib/postgresql/$version/bin:/bin
user="\${POSTGRES_USER:-postgres}"
if [ ! -s "\$PGDATA/PG_VERSION" ]; then
  echo "\$POSTGRES_PASSWORD" >/tmp/password
  initdb -D "\$PGDATA" -U "\$user" --pwfile=/tmp/password -A scram-sha-256 -E UTF8 --locale=C >/dev/null
  rm /tmp/password
  echo "host all all all scram-sha-256" >>"\$PGDATA/pg_hba.conf"
  if [ -n "\$POSTGRES_DB" ] && [ "\$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \\"\$POSTGRES_DB\\"" | postgres --single -D "\$PGDATA" -j postgres >/dev/null
  fi
fi
exec postgres -D "\$PGDATA" -k /tmp -c listen_addresses='*' "\$@"
SCRIPT
  chmod 755 "$root/entrypoint.sh"
  chmod 1777 "$root/tmp"
  # Owned by postgres in the image, so a named volume mounted on the data directory is too.
  chown 999:999 "$root/var/lib/postgresql" "$root/var/lib/postgresql/data"
  chmod 700 "$root/var/lib/postgresql/data"
  tar -C "$root" --numeric-owner -c . |
    docker import --change 'USER postgres' \
      --change "ENV PGDATA=/var/lib/postgresql/data PGHOST=/tmp TZ=UTC PATH=/usr/lib/postgresql/$version/bin:/bin" \
      --change 'ENTRYPOINT ["/entrypoint.sh"]' - "$POSTGRES_TEST_IMAGE" >/dev/null
  rm -rf "$root"
}
