# `make demo` and `make test` work on a fresh machine with Python 3.11+: each builds .venv first.
# The first interpreter that actually runs and is 3.11+ (pyenv shims can exist yet fail).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: test lint types pytest unit demo console bench mutate clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "batchqueue needs Python 3.11 or newer on PATH" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres]"
	@touch $(STAMP)

test: lint types pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash samples/demo.sh

console: $(STAMP)
	$(BIN)/batchqueue console --demo --db console-demo.db

bench: $(STAMP)
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/submit_bench.py
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/workers_bench.py
	$(BIN)/python bench/startup_bench.py
	$(BIN)/python bench/dnc_bench.py
	$(BIN)/python bench/reimport_bench.py
	$(BIN)/python bench/calling_bench.py
	$(BIN)/python bench/caps_bench.py
	$(BIN)/python bench/console_bench.py
	$(BIN)/python bench/throttle_bench.py
	$(BIN)/python bench/ledger_check_bench.py
	$(BIN)/python bench/answers_bench.py

# Mutation testing (mutmut) of the modules behind the promises ([tool.mutmut] only_mutate in
# pyproject.toml); prints the score per module. Not part of `make test`: a full run takes hours on
# 2 cores. MODULES="batchqueue.ledger.sending batchqueue.console.auth" runs only those modules'
# mutants (keeping the results of the others and the test map of an earlier run); without MODULES
# every module is run from scratch. CHILDREN=1 tests one mutant at a time (a core left for others).
MODULES ?=
CHILDREN ?= 2
mutate: $(STAMP)
	$(if $(strip $(MODULES)),,rm -rf mutants)
	$(BIN)/mutmut run --max-children $(CHILDREN) $(foreach m,$(MODULES),'$(m).*') || true
	$(BIN)/python bench/mutation_score.py $(MODULES)

clean:
	rm -rf demo-out bench/out mutants .pytest_cache .mypy_cache .ruff_cache
