# The two commands of the quick start, `make demo` and `make test`; `make docs` builds the documentation site.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test lint typecheck clean calibrate accuracy docs transcripts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0 && $(BIN)/pip install --quiet -e '.[test,torch]'
	touch $(STAMP) $(TEST_STAMP)

$(DOCS_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $(STAMP) $(DOCS_STAMP)

demo: $(STAMP)
	$(BIN)/chipfleet demo --out out

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks scripts)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks scripts)
	$(BIN)/lint-imports

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# Everything, the slow tests too (a bare `pytest`, the developer loop, leaves them out), spread over every core;
# tests that share an expensive fixture run on one worker (xdist_group: tests/conftest.py, tests/docs).
test: lint typecheck
	$(BIN)/pytest -m "slow or not slow" -n auto --dist loadgroup

# The documentation site, built into site/; --strict turns a broken link or a page missing from the nav into an error.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Re-run the commands of the CLI tour (docs/cli.md) and rewrite their output blocks.
transcripts: $(STAMP)
	$(BIN)/python scripts/docs_transcripts.py

# Refit the shipped efficiency parameters on the shipped measurements (reproducible: same data, same fit).
calibrate: $(STAMP)
	$(BIN)/chipfleet calibrate --out src/chipfleet/catalog/data/families_calibrated.yaml

# Regenerate docs/accuracy.md (cross-validated table and local-hardware check).
accuracy: $(TEST_STAMP)
	$(BIN)/python benchmarks/accuracy.py --doc docs/accuracy.md

clean:
	rm -rf $(VENV) out build site *.egg-info src/*.egg-info
