# The two set-up commands are `make demo` (the main job: every failure drill and its fix, on the
# local runtime) and `make test`.
# Each creates .venv and installs what it needs, Debian packages included (scripts/system-deps.sh).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint types unit system clean bench compose-ci installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

system:
	bash scripts/system-deps.sh

demo: $(STAMP) system
	$(BIN)/callbench rehearse --quick

# lint-imports: the contracts of pyproject.toml's [tool.importlinter] (generator/ and mocks/
# never import bench/ nor each other; generator/ takes no command-line flags).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

# Two pytest workers: the drills' rehearsal (~9 min, mostly waiting on paced calls) runs on one
# while the rest of the suite runs on the other; idle workers steal queued tests. The tests that
# check timing to the millisecond (marker `timing`) then run alone, on a machine at rest.
unit: $(STAMP) system
	$(BIN)/pytest -n 2 --dist worksteal -m "not timing"
	$(BIN)/pytest -m timing

# The containerized stack, for real: a private Docker engine, images built offline, a drill on
# compose, everything torn down (scripts/compose-ci.sh, docs/compose.md).
compose-ci: $(STAMP) system
	bash scripts/compose-ci.sh

# callbench as a user gets it: the wheel (python -m build) in a fresh virtualenv outside the
# checkout, run from a temporary directory: up, status, calls, down, a drill and its fix, an HTML
# report (scripts/installed-smoke.sh, ~2-3 min).
installed: $(STAMP) system
	VENV=$(VENV) bash scripts/installed-smoke.sh

test: lint types unit compose-ci installed

clean:
	rm -rf $(VENV) .callbench .mypy_cache .pytest_cache .ruff_cache

# Performance against peers (docs/performance.md); not part of `make test`. BENCH_ARGS=--quick
# for a smoke run. Locust goes into its own virtualenv, never into .venv.
bench: $(STAMP) system
	command -v nginx >/dev/null && command -v wrk >/dev/null && command -v hey >/dev/null \
		|| apt-get install -y -q nginx-light wrk hey
	test -x .callbench/peers-venv/bin/locust || (python3 -m venv .callbench/peers-venv \
		&& .callbench/peers-venv/bin/pip install -q locust)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
