# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint typecheck clean calibrate accuracy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0 && $(BIN)/pip install --quiet -e '.[test,torch]'
	touch $(STAMP) $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/chipfleet demo --out out

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks)

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# Refit the shipped efficiency parameters on the shipped measurements (reproducible: same data, same fit).
calibrate: $(STAMP)
	$(BIN)/chipfleet calibrate --out src/chipfleet/catalog/data/families_calibrated.yaml

# Regenerate docs/accuracy.md (cross-validated table and local-hardware check).
accuracy: $(TEST_STAMP)
	$(BIN)/python benchmarks/accuracy.py --doc docs/accuracy.md

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
