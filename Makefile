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

.PHONY: run test bench lint ruff format-check mypy docs docs-serve wheel-check catalogues clean

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
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python -m benchmarks

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

# The translations (docs/languages.md): extract the marked messages into the template,
# merge them into each language's .po (new ones arrive empty, changed ones fuzzy), then
# compile the .mo files the package ships. Translate in the .po, then run it again.
LOCALES := src/retroprop/locale
catalogues: $(VENV)/.test-deps
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 --no-location \
		--sort-output --project retroprop -o $(LOCALES)/retroprop.pot .
	$(BIN)/pybabel update -D retroprop -i $(LOCALES)/retroprop.pot -d $(LOCALES) \
		--no-wrap --ignore-obsolete
	$(BIN)/pybabel compile --statistics -D retroprop -d $(LOCALES)

clean:
	rm -rf $(VENV) build site src/*.egg-info .pytest_cache
