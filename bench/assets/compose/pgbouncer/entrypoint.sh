#!/bin/sh
# Writes pgbouncer.ini from the environment and runs PgBouncer in the foreground.
# PGBOUNCER_LISTEN_ADDR/PORT, PGBOUNCER_DB_HOST/PORT, PGBOUNCER_POOL_SIZE, PGBOUNCER_MAX_CLIENT_CONN.
set -eu
dir=/tmp/pgbouncer
mkdir -p "$dir"
cat >"$dir/userlist.txt" <<USERS
"callbench" "callbench"
"postgres" ""
USERS
cat >"$dir/pgbouncer.ini" <<INI
[databases]
callbench = host=${PGBOUNCER_DB_HOST:-postgres} port=${PGBOUNCER_DB_PORT:-5432} dbname=callbench user=callbench password=callbench

[pgbouncer]
listen_addr = ${PGBOUNCER_LISTEN_ADDR:-0.0.0.0}
listen_port = ${PGBOUNCER_PORT:-6432}
unix_socket_dir =
auth_type = plain
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = ${PGBOUNCER_POOL_SIZE:-10}
max_client_conn = ${PGBOUNCER_MAX_CLIENT_CONN:-1000}
ignore_startup_parameters = extra_float_digits
admin_users = postgres
INI
exec pgbouncer "$dir/pgbouncer.ini"
