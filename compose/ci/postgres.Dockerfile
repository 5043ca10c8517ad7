# CI's Postgres: Debian's postgresql on the debootstrapped base (no registry reachable in CI).
# Users get the official postgres:16 image instead (docker-compose.yml).
ARG BASE_IMAGE=callbench-base:bookworm
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    && rm -rf /var/lib/apt/lists/*
COPY bench/assets/compose/postgres/app-role.sql /usr/local/share/callbench/app-role.sql
COPY compose/ci/postgres-entrypoint.sh /usr/local/bin/callbench-postgres
USER postgres
ENTRYPOINT ["/usr/local/bin/callbench-postgres"]
