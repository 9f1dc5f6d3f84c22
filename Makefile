# Two commands for a new user: `make demo` and `make test`. Both build their own venv.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# Most of the suite's time is spent waiting on brokers and workers, not computing: two
# processes halve it. `make test PYTEST_JOBS=` runs it in one.
PYTEST_JOBS ?= -n 2 --dist worksteal

.PHONY: demo test lint schemas bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stream demo $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check stream schemas tests
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_JOBS) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check stream schemas tests
	$(BIN)/ruff format --check stream schemas tests

schemas: $(STAMP)
	$(BIN)/stream schemas export schemas/json

bench: $(STAMP)
	$(BIN)/stream bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
