#!/bin/sh
# Entry point of erp-postgres (busybox sh; PostgreSQL 15 from the host's /usr, read-only).
# First start: initdb into the volume, set the password and create the ERP database.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
PORT=${PGPORT:-15432}
DB=${POSTGRES_DB:-erp_quty_karunia_prod}
if [ -f /faults/postgres.json ] && grep -q '"crashOnStart": *true' /faults/postgres.json; then
  echo "FATAL: crash-on-start fault switch is set (/faults/postgres.json)" >&2
  exit 1
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "initialising database cluster in $PGDATA"
  pwfile=/tmp/pwfile
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --locale=C.UTF-8 --encoding=UTF8 >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }
  rm -f "$pwfile"
  echo "CREATE DATABASE $DB;" | postgres --single -D "$PGDATA" postgres >/dev/null
  echo "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;" | postgres --single -D "$PGDATA" "$DB" >/dev/null
  echo "database $DB created"
fi
exec postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -c port="$PORT" -c max_connections=200 \
  -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all \
  -c unix_socket_directories=/var/run/postgresql -c shared_buffers=256MB -c log_min_duration_statement=1000 \
  -c max_wal_size=2GB -c log_line_prefix='%m [%p] %u@%d '
