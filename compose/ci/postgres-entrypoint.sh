#!/bin/sh
# Postgres for CI from Debian's postgresql package (no registry: no official image). Runs as the
# postgres user: a fresh cluster on first start, the application role (non-superuser, so it meets
# max_connections the way an application does), then the server in the foreground with "$@".
set -eu
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA=${PGDATA:-/var/lib/postgresql/callbench}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
    # Single-user mode runs one statement per line, outside a transaction (CREATE DATABASE).
    "$PGBIN/postgres" --single -D "$PGDATA" postgres \
        </usr/local/share/callbench/app-role.sql >/dev/null
fi
exec "$PGBIN/postgres" -D "$PGDATA" "$@"
