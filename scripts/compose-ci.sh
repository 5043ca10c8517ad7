#!/usr/bin/env bash
# CI step for the compose runtime (issue 7): start a private Docker engine, build the images from
# a debootstrapped Debian base (no registry is reachable here), check the compose files, run
# drills on the compose stack (`callbench drill NAME --runtime compose`: pool-exhaustion, its
# PgBouncer fix, backend-crash — each brings the containers up with its overrides, runs its load,
# is diagnosed, tears down), then bring the stack up once more to check that Prometheus scraped
# Postgres's refusals, and tear everything down — engine included — whatever happens (trap on
# EXIT).
#
# Safe to run twice: a leftover engine of ours (crashed run) is stopped first; the debootstrap
# tarball and the engine's image store are cached under $CACHE, so a second run mostly hits caches.
# Needs root (dockerd, apt-get) and the project's venv (make's $(STAMP)).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
CACHE=${CALLBENCH_CI_CACHE:-/var/cache/callbench}
RUN=${CALLBENCH_CI_RUN:-/run/callbench-compose-ci}
BASE_IMAGE=callbench-base:bookworm
DEADLINE_S=${CALLBENCH_CI_DEADLINE_S:-240}
export COMPOSE_PROJECT_NAME=callbenchci
export COMPOSE_FILE=docker-compose.yml:docker-compose.ci.yml
export DOCKER_HOST=unix://$RUN/docker.sock
export CALLBENCH_BASE_IMAGE=$BASE_IMAGE
export HEALTHCHECK_INTERVAL=1s
export COMPOSE_HTTP_TIMEOUT=300
# Build through the SDK (the classic builder, which honours `network: host`), not through a docker
# CLI that may want a buildx plugin this machine does not have.
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0

now_ms() { echo $(($(date +%s%N) / 1000000)); }
seconds() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
T_START=$(now_ms)
T_LAST=$T_START
TIMINGS=()
mark() { # record how long the step that just ended took
    local now
    now=$(now_ms)
    TIMINGS+=("$(printf '%-34s %6s s' "$1" "$(seconds $((now - T_LAST)))")")
    T_LAST=$now
}
say() { echo "compose-ci: $*"; }

DOCKERD_PID=""
stop_dockerd() {
    local pid=${1:-}
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
unmount_leftovers() {
    local m
    for m in /run/docker/netns/default "$RUN"/exec/netns/*; do
        if [ -e "$m" ] && mountpoint -q "$m" 2>/dev/null; then
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        fi
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$DOCKERD_PID" ] && docker version >/dev/null 2>&1; then
        if [ "$rc" -ne 0 ]; then
            say "FAILED (exit $rc): last lines of each service's log"
            docker-compose logs --no-color --tail=40 2>&1 | tail -n 200
            [ -f "$RUN/dockerd.log" ] && tail -n 20 "$RUN/dockerd.log"
        fi
        docker-compose --profile pgbouncer --profile load down -v --remove-orphans -t 5 \
            >/dev/null 2>&1
    fi
    stop_dockerd "$DOCKERD_PID"
    unmount_leftovers
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        say "dockerd (pid $DOCKERD_PID) is still running" >&2
        rc=3
    fi
    mark "teardown (compose down, dockerd)"
    say "timings:"
    printf '  %s\n' "${TIMINGS[@]}"
    printf '  %-34s %6s s\n' "total" "$(seconds $(($(now_ms) - T_START)))"
    if [ "$rc" -eq 0 ]; then say "passed"; else say "failed (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
    say "needs root (it starts dockerd and may apt-get install docker.io)" >&2
    exit 3
fi
[ -x "$VENV/bin/python" ] || { say "no venv at $VENV (run make first)" >&2; exit 3; }

# -- 1. packages -----------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
mark "packages"

# -- 2. a private Docker engine --------------------------------------------------------------------
mkdir -p "$RUN" "$CACHE"
if [ -f "$RUN/dockerd.pid" ]; then # a crashed earlier run's engine: ours by its pidfile
    old=$(cat "$RUN/dockerd.pid" 2>/dev/null || true)
    if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = dockerd ]; then
        say "stopping a leftover dockerd (pid $old)"
        stop_dockerd "$old"
    fi
    rm -f "$RUN/dockerd.pid"
fi
unmount_leftovers

start_dockerd() {
    local driver=$1
    dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
        --storage-driver="$driver" --data-root "$CACHE/docker-$driver" \
        --pidfile "$RUN/dockerd.pid" --exec-root "$RUN/exec" --host "$DOCKER_HOST" \
        >"$RUN/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 150); do
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            wait "$DOCKERD_PID" 2>/dev/null || true
            DOCKERD_PID=""
            return 1
        fi
        docker version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    stop_dockerd "$DOCKERD_PID"
    DOCKERD_PID=""
    return 1
}
if start_dockerd overlay2; then
    DRIVER=overlay2
else
    say "dockerd would not start with overlay2; trying vfs"
    tail -n 5 "$RUN/dockerd.log" || true
    start_dockerd vfs || { tail -n 20 "$RUN/dockerd.log"; exit 3; }
    DRIVER=vfs
fi
say "dockerd pid $DOCKERD_PID, storage driver $DRIVER, $DOCKER_HOST"
mark "start dockerd ($DRIVER)"

# -- 3. images ------------------------------------------------------------------------------------
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    tarball=$CACHE/bookworm-minbase.tar
    if [ ! -s "$tarball" ]; then
        say "debootstrap --variant=minbase bookworm (cached in $tarball)"
        rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        debootstrap --variant=minbase bookworm "$rootfs" >"$RUN/debootstrap.log" 2>&1 \
            || { tail -n 20 "$RUN/debootstrap.log"; rm -rf "$rootfs"; exit 3; }
        tar -C "$rootfs" -c . >"$tarball.tmp"
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    docker import "$tarball" "$BASE_IMAGE" >/dev/null
fi
mark "base image"

# pip inside a build cannot verify TLS here: build every wheel on the host, install with --no-index.
mkdir -p .callbench/wheels
rm -f .callbench/wheels/callbench-*.whl
"$VENV/bin/python" -m pip wheel -q --disable-pip-version-check \
    --find-links .callbench/wheels --wheel-dir .callbench/wheels . 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
mark "wheels on the host"

# realtime, backend and generator share callbench:ci: building it once (backend) is enough.
docker-compose build -q --parallel postgres prometheus backend
mark "docker-compose build"

# -- 4. the compose files -------------------------------------------------------------------------
"$VENV/bin/pytest" -q -p no:cacheprovider tests/bench/compose/test_compose_config.py
mark "compose config tests"

# -- 5. ports: the CI file puts every service on the host network, each on its own free port -------
read -r POSTGRES_PORT REALTIME_PORT REALTIME_ADMIN_PORT BACKEND_PORT BACKEND_ADMIN_PORT \
    PROMETHEUS_PORT GENERATOR_METRICS_PORT PGBOUNCER_PORT < <("$VENV/bin/python" - <<'PY'
import socket
socks = [socket.socket() for _ in range(8)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
)
export POSTGRES_PORT REALTIME_PORT REALTIME_ADMIN_PORT BACKEND_PORT BACKEND_ADMIN_PORT \
    PROMETHEUS_PORT GENERATOR_METRICS_PORT PGBOUNCER_PORT
export BACKEND_DB_PORT=$POSTGRES_PORT

# -- 6. drills on the compose stack, diagnosed --------------------------------------------------
# Exit 0 = the observed zone and findings are exactly the drill's expectation (drill.json).
drill() { # NAME [--fix]
    local out=$RUN/drills/$1${2:+-fix}
    rm -rf "$out"
    mkdir -p "$RUN/drills"
    say "callbench drill $* --runtime compose --quick"
    if ! "$VENV/bin/callbench" drill "$@" --runtime compose --quick --out "$out" \
        2>"$out.err"; then
        tail -n 40 "$out.err" >&2
        say "drill $* did not match its expectation on compose" >&2
        exit 1
    fi
    "$VENV/bin/python" - "$out" <<'PY'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
drill = json.loads((out / "drill.json").read_text())
assert drill["matched"], drill
rows = [json.loads(line) for line in (out / "monitor.jsonl").read_text().splitlines()]
# The monitor read the backend container through the Docker SDK: memory, and CPU once it had
# two readings, until the container was killed (the crash drill).
alive = [r for r in rows if r.get("process_alive")]
assert any("rss_bytes" in r for r in alive), "no container memory sample in monitor.jsonl"
assert any("cpu_percent" in r for r in alive), "no container CPU sample in monitor.jsonl"
print(f"  {out.name}: {drill['observed']}; {len(rows)} monitor samples (container source)")
PY
}
drill pool-exhaustion
mark "drill pool-exhaustion (compose)"
drill pool-exhaustion --fix
mark "drill pool-exhaustion --fix"
drill backend-crash
mark "drill backend-crash (compose)"

# -- 7. the stack once more: did Prometheus see it? --------------------------------------------
STATE=$RUN/state
"$VENV/bin/python" -m bench.stack.compose_cli up --state-dir "$STATE" --timeout "$DEADLINE_S" \
    --set postgres.max_connections=20 --set backend.db_pool_max=50 >"$RUN/stack.json"
say "stack is up: postgres :$POSTGRES_PORT, realtime :$REALTIME_PORT, backend :$BACKEND_PORT" \
    "(admin :$BACKEND_ADMIN_PORT), prometheus :$PROMETHEUS_PORT"
docker-compose ps
cap=$(docker-compose exec -T postgres psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -tAc \
    'SHOW max_connections')
say "postgres max_connections = $cap"
[ "$cap" = 20 ] || { say "expected max_connections 20" >&2; exit 1; }
mark "compose up (healthy)"

# A pool of 50 in front of a cap of 20, 30 concurrent tool-calling calls: the backend counts
# Postgres's refusals and Prometheus scrapes the count (the dashboards' source).
set +e
"$VENV/bin/callbench" calls --url "ws://127.0.0.1:$BACKEND_PORT/ws/voice" --calls 30 \
    --out "$RUN/run" --json >"$RUN/calls.json" 2>"$RUN/calls.err"
calls_rc=$?
set -e
if [ "$calls_rc" -ne 0 ] && [ "$calls_rc" -ne 1 ]; then # 1 = thresholds failed: expected here
    say "callbench calls exited $calls_rc" >&2
    cat "$RUN/calls.err" >&2
    exit 1
fi
"$VENV/bin/python" - "$BACKEND_ADMIN_PORT" "$PROMETHEUS_PORT" <<'PY'
import json, sys, time, urllib.parse, urllib.request

admin, prom = sys.argv[1], sys.argv[2]
text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
refused = sum(
    float(line.rsplit(" ", 1)[1])
    for line in text.splitlines()
    if line.startswith('callbench_backend_db_errors_total{kind="too_many_connections"}')
)
for line in text.splitlines():
    if line.startswith(("callbench_backend_db_errors_total", "callbench_backend_calls_total")):
        print("  backend:", line)
if refused <= 0:
    sys.exit("compose-ci: the backend counted no too_many_connections error")
query = 'sum(callbench_backend_db_errors_total{kind="too_many_connections"})'
url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query})
deadline = time.monotonic() + 20
while True:  # Prometheus scrapes every second: wait for the scrape that saw the errors
    result = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
    if result and float(result[0]["value"][1]) > 0:
        print(f"  prometheus: {query} = {result[0]['value'][1]}")
        break
    if time.monotonic() > deadline:
        sys.exit(f"compose-ci: Prometheus never saw the errors ({query} -> {result})")
    time.sleep(0.5)
print("compose-ci: diagnosed: Postgres refused connections (SQLSTATE 53300, too_many_connections)")
PY
mark "calls into the cap, seen by Prometheus"

# -- container stats through the SDK ----------------------------------------------------------------
"$VENV/bin/python" -m bench.stack.compose_cli stats --state-dir "$STATE"

# -- 8. down --------------------------------------------------------------------------------------
"$VENV/bin/python" -m bench.stack.compose_cli down --state-dir "$STATE"
left=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
[ -z "$left" ] || { say "containers left after down: $left" >&2; exit 1; }
docker image prune -f >/dev/null # images replaced by this run's builds: keep the cache bounded
mark "compose down"
