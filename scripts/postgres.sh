#!/usr/bin/env bash
# A throwaway PostgreSQL 15 from Debian's packages for the tests:
#
#   eval "$(bash scripts/postgres.sh start)"   # prints the variables to export
#   bash scripts/postgres.sh stop "$REFX_TEST_POSTGRES_DIR"
#
# initdb in a fresh temporary directory (as the unprivileged `postgres` user
# when run as root: PostgreSQL refuses to run as root), password
# authentication only (scram-sha-256, a random password in a 0600 file),
# listening on a Unix socket in that directory and on a free loopback port.
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
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400 -c fsync=on" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    # The tests (run as this user) read the password file.
    if [ "$(id -u)" -eq 0 ]; then chown root: "$dir/password"; fi
    echo "export REFX_TEST_POSTGRES_DIR=$dir"
    echo "export REFX_TEST_POSTGRES_HOST=$dir"
    echo "export REFX_TEST_POSTGRES_PORT=$port"
    echo "export REFX_TEST_POSTGRES_USER=refx"
    echo "export REFX_TEST_POSTGRES_PASSWORD_FILE=$dir/password"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres.sh start | stop DIR" >&2
    exit 2
    ;;
esac
