#!/usr/bin/env bash
# `make installed` (part of `make test`, issue 16): callbench as a user gets it. Build the sdist and
# the wheel (python -m build: the wheel is built from the sdist, so both are checked), install the
# wheel into a fresh virtualenv outside the checkout, and from a temporary directory run what a new
# user runs: `callbench up`, `status`, `calls --quick` against the stack `up` started, `down`, a
# drill whose fake upstream is handed a faults file (upstream-session-cap) and its fix, and
# `report --format html` on a run. Every step must exit 0; the stack is always taken down (trap on
# EXIT), and the temporary directory removed when everything passed (kept, and named, otherwise).
#
# Needs the project's venv (make's $(STAMP): `build` is in the dev extras) and the Debian packages
# of scripts/system-deps.sh (Postgres, PgBouncer, Prometheus). About 2 minutes, most of it pip
# installing the dependencies into the new virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOUT=$PWD
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || { echo "installed: no venv at $VENV (run make first)" >&2; exit 3; }
PYTHON=$(cd "$(dirname "$VENV/bin/python")" && pwd)/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/callbench-installed.XXXXXX")
case "$WORK" in "$CHECKOUT"/*) echo "installed: $WORK is inside the checkout" >&2; exit 3 ;; esac
USER_DIR=$WORK/user # the new user's working directory: no checkout in sight
mkdir -p "$USER_DIR"
CALLBENCH=$WORK/venv/bin/callbench

now_ms() { echo $(($(date +%s%N) / 1000000)); }
T_START=$(now_ms)
T_LAST=$T_START
TIMINGS=()
mark() {
    local now
    now=$(now_ms)
    TIMINGS+=("$(printf '%-44s %6d ms' "$1" $((now - T_LAST)))")
    T_LAST=$now
}
say() { echo "installed: $*"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -x "$CALLBENCH" ]; then
        (cd "$USER_DIR" && "$CALLBENCH" down >/dev/null 2>&1)
    fi
    say "timings:"
    printf '  %s\n' "${TIMINGS[@]}"
    printf '  %-44s %6d ms\n' "total" $(($(now_ms) - T_START))
    if [ "$rc" -eq 0 ]; then
        rm -rf "$WORK"
        say "passed"
    else
        say "FAILED (exit $rc); its files are in $WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { # NAME COMMAND... : run from the user's directory; stdout in $WORK/NAME.out, stderr .err
    local name=$1
    shift
    say "$*"
    if ! (cd "$USER_DIR" && "$@") >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        tail -n 20 "$WORK/$name.out" >&2
        tail -n 40 "$WORK/$name.err" >&2
        say "\`$*\` failed" >&2
        exit 1
    fi
    mark "callbench ${*:2}"
}

# -- 1. sdist and wheel ------------------------------------------------------------------------
say "python -m build --outdir $WORK/dist"
"$PYTHON" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 \
    || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
WHEEL=$(ls "$WORK"/dist/callbench-*.whl)
ls "$WORK"/dist/callbench-*.tar.gz >/dev/null
mark "python -m build (sdist, wheel)"

# -- 2. a fresh virtualenv outside the checkout ------------------------------------------------
say "a new virtualenv, $WORK/venv, and the wheel installed into it"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check "$WHEEL" \
    >"$WORK/pip.log" 2>&1 || { tail -n 40 "$WORK/pip.log" >&2; exit 1; }
where=$(cd "$USER_DIR" && "$WORK/venv/bin/python" -c 'import bench; print(bench.__file__)')
case "$where" in
    "$WORK"/venv/*) ;;
    *) say "bench is imported from $where, not from the new virtualenv" >&2; exit 1 ;;
esac
mark "pip install the wheel into a new venv"

# -- 3. the stack, from the user's directory ---------------------------------------------------
step up "$CALLBENCH" up --json
URL=$("$WORK/venv/bin/python" -c 'import json, sys
print(json.load(open(sys.argv[1]))["backend"]["urls"]["ws"] + "/ws/voice")' "$WORK/up.out")
step status "$CALLBENCH" status --json
grep -q '"healthy": true' "$WORK/status.out" || { say "status: not healthy" >&2; exit 1; }
step calls "$CALLBENCH" calls --url "$URL" --quick --out runs/calls
step down "$CALLBENCH" down
[ ! -e "$USER_DIR/.callbench/stack.json" ] || { say "down left stack.json" >&2; exit 1; }

# -- 4. a drill whose upstream reads a faults file, and its fix (relative run dirs) -------------
step drill "$CALLBENCH" drill upstream-session-cap --quick --out runs/drill
step drill-fix "$CALLBENCH" drill upstream-session-cap --quick --fix --out runs/drill-fix

# -- 5. a report rendered again, as HTML -------------------------------------------------------
step report "$CALLBENCH" report runs/calls --format html
[ -s "$USER_DIR/runs/calls/report.html" ] || { say "no runs/calls/report.html" >&2; exit 1; }
