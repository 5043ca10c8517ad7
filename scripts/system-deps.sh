#!/usr/bin/env bash
# Installs the real servers the local runtime starts (Postgres, PgBouncer, Prometheus,
# postgres_exporter) from Debian packages when their binaries are missing. Idempotent: does nothing
# when all are present.
set -euo pipefail

have_pg() {
    command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

missing=()
have_pg || missing+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v prometheus-postgres-exporter >/dev/null 2>&1 || missing+=(prometheus-postgres-exporter)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # HTML report tests (headless)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "callbench needs the Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 3
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start their own services; the bench starts its own throwaway instances instead.
for svc in pgbouncer prometheus prometheus-postgres-exporter postgresql; do
    service "$svc" stop >/dev/null 2>&1 || true
done
