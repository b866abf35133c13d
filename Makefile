# Two entry points: `make run` trains the lecture's network, `make test` runs the suite.
# Each creates .venv when it is missing. `make lint`, `make docs` and `make wheel-check`
# are the other checks CI (.ci/run) makes; `make docs-serve` previews the site.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LINT_PATHS := src tests benchmarks examples fuzz
SITE ?= site
# Material for MkDocs prints a long notice about MkDocs 2 on every build.
export NO_MKDOCS_2_WARNING := 1

.PHONY: run test bench lint ruff format-check mypy docs docs-serve wheel-check clean

$(BIN)/retroprop: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[fast]"
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/retroprop
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.docs-deps: pyproject.toml | $(BIN)/retroprop
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

run: $(BIN)/retroprop
	$(BIN)/retroprop train

test: $(VENV)/.test-deps
	$(BIN)/python -m pytest

bench: $(VENV)/.test-deps
	$(BIN)/python -m benchmarks

# ruff's rule set and mypy's settings are in pyproject.toml; `make -k lint` runs all three.
lint: ruff format-check mypy

ruff: $(VENV)/.test-deps
	$(BIN)/ruff check $(LINT_PATHS)

format-check: $(VENV)/.test-deps
	$(BIN)/ruff format --check $(LINT_PATHS)

mypy: $(VENV)/.test-deps
	$(BIN)/mypy

# The documentation site (mkdocs.yml, docs/), warnings as errors, into $(SITE).
docs: $(VENV)/.docs-deps
	$(BIN)/mkdocs build --strict --site-dir $(SITE)

docs-serve: $(VENV)/.docs-deps
	$(BIN)/mkdocs serve

# The built wheel, installed into a fresh venv, runs the main commands.
wheel-check: $(BIN)/retroprop
	bash .ci/wheel-check $(BIN)/python

clean:
	rm -rf $(VENV) build site src/*.egg-info .pytest_cache
