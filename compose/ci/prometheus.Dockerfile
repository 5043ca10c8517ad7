# CI's Prometheus: Debian's prometheus on the debootstrapped base (no registry reachable in CI),
# laid out like prom/prometheus (binary on PATH, data in /prometheus) so one service definition
# serves both. wget for the health check, as in the official image.
ARG BASE_IMAGE=callbench-base:bookworm
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends prometheus wget >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus
