# Two entry points: `make run` trains the lecture's network, `make test` runs the suite.
# Each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint clean

$(BIN)/retroprop: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[fast]"
	touch $@

$(VENV)/.test-deps: pyproject.toml $(BIN)/retroprop
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/retroprop
	$(BIN)/retroprop train

test: $(VENV)/.test-deps
	$(BIN)/python -m pytest

bench: $(VENV)/.test-deps
	$(BIN)/python -m benchmarks

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
