#!/usr/bin/env bash
# Install (if needed) and start a local PostgreSQL server for the store tests; writes .ci/postgres.env
# with SAGESTACK_TEST_DATABASE_URL. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "postgresql is not installed and cannot be installed here" >&2
    exit 1
  fi
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDATA=${SAGESTACK_PGDATA:-/tmp/sagestack-pg}
PORT=${SAGESTACK_PGPORT:-55432}
RUNAS=""
if [ "$(id -u)" = 0 ]; then RUNAS="runuser -u postgres --"; fi
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  [ -n "$RUNAS" ] && chown postgres "$PGDATA"
  $RUNAS "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust >/dev/null
fi
if ! $RUNAS "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  $RUNAS "$PGBIN/pg_ctl" -D "$PGDATA" -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" \
    -l "$PGDATA/server.log" -w start >/dev/null
fi
"$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='sagestack_test'" \
  | grep -q 1 || "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE sagestack_test" >/dev/null
echo "SAGESTACK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/sagestack_test" > .ci/postgres.env
echo "PostgreSQL ready on port $PORT"
