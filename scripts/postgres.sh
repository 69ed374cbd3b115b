#!/usr/bin/env bash
# A throwaway PostgreSQL 15 from Debian's packages for the tests:
#
#   eval "$(bash scripts/postgres.sh start)"   # prints the variables to export
#   bash scripts/postgres.sh stop "$REFX_TEST_POSTGRES_DIR"
#   bash scripts/postgres.sh crash DIR            # pg_ctl stop -m immediate (crash tests)
#   bash scripts/postgres.sh resume DIR           # start it again (crash recovery), same port
#
# initdb in a fresh temporary directory (as the unprivileged `postgres` user
# when run as root: PostgreSQL refuses to run as root), password
# authentication only (scram-sha-256, a random password in a 0600 file),
# listening on a Unix socket in that directory and, TLS only, on a free
# loopback port (a throwaway certificate for localhost: REFX_TEST_POSTGRES_CA).
# Nothing outside the directory is touched; `stop` removes it.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || { echo "refx: PostgreSQL server binaries not found (apt install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/refx-pg.XXXXXX)
    umask 077
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir"; fi
    as_owner "$bindir/initdb" -D "$dir/data" -U refx --pwfile="$dir/password" \
      --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    # TLS for TCP: a throwaway certificate for localhost (its own root), and
    # TCP connections without TLS refused (hostssl only), as production
    # should be; the Unix socket stays password-only.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$dir/server.key" -out "$dir/server.crt" >/dev/null 2>&1
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/server.key" "$dir/server.crt"; fi
    sed -i -E 's/^host(\s)/hostssl\1/' "$dir/data/pg_hba.conf"
    cat >> "$dir/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
CONF
    echo "$port" > "$dir/port"
    bash "$0" resume "$dir"
    # The tests (run as this user) read the password file.
    if [ "$(id -u)" -eq 0 ]; then chown root: "$dir/password"; fi
    echo "export REFX_TEST_POSTGRES_DIR=$dir"
    echo "export REFX_TEST_POSTGRES_HOST=$dir"
    echo "export REFX_TEST_POSTGRES_PORT=$port"
    echo "export REFX_TEST_POSTGRES_USER=refx"
    echo "export REFX_TEST_POSTGRES_PASSWORD_FILE=$dir/password"
    echo "export REFX_TEST_POSTGRES_CA=$dir/server.crt"
    ;;
  resume)
    dir=${2:?usage: postgres.sh resume DIR}
    port=$(cat "$dir/port")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400 -c fsync=on" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  crash)
    dir=${2:?usage: postgres.sh crash DIR}
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres.sh start | stop DIR | crash DIR | resume DIR" >&2
    exit 2
    ;;
esac
