# One image for the mocks and the generator: `callbench mock realtime|backend ...`,
# `callbench calls ...`. Works with the classic builder (no BuildKit-only syntax), because CI here
# builds with it.
#
# Users:  docker-compose build            (FROM python:3.11-slim-bookworm, pip installs from PyPI)
# CI:     BASE_IMAGE=callbench-base:bookworm, Debian's python3 installed in the build, and the
#         project's wheels (built on the host into .callbench/wheels) installed with --no-index:
#         pip inside a build cannot verify TLS there. See scripts/compose-ci.sh.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/callbench/bin:$PATH

# A base without Python (the debootstrapped one) gets Debian's python3 (3.11).
RUN if ! command -v python3 >/dev/null 2>&1; then \
        apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/callbench \
    && (getent passwd callbench >/dev/null || useradd --system --no-create-home callbench)

# .dockerignore keeps the context to the sources and .callbench/wheels.
COPY . /src
RUN set -e; \
    if ls /src/.callbench/wheels/callbench-*.whl >/dev/null 2>&1; then \
        pip install -q --no-index --find-links /src/.callbench/wheels callbench; \
    else \
        pip install -q /src; \
    fi; \
    rm -rf /src; \
    callbench --help >/dev/null

USER callbench
WORKDIR /tmp
ENTRYPOINT ["callbench"]
CMD ["--help"]
