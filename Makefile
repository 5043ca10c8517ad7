# The two set-up commands are `make demo` (the main job, on the local runtime) and `make test`.
# Each creates .venv and installs what it needs, Debian packages included (scripts/system-deps.sh).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint types unit system clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

system:
	bash scripts/system-deps.sh

demo: $(STAMP) system
	$(BIN)/callbench demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) system
	$(BIN)/pytest

test: lint types unit

clean:
	rm -rf $(VENV) .callbench .mypy_cache .pytest_cache .ruff_cache
