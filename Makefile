# `make demo` and `make test` work on a fresh machine with Python 3.11+: each builds .venv first.
PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: test lint types pytest demo bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

test: lint types pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash samples/demo.sh

bench: $(STAMP)
	$(BIN)/python bench/import_bench.py

clean:
	rm -rf demo-out bench/out .pytest_cache .mypy_cache .ruff_cache
