# Every target is self-contained: it creates the virtualenv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: test lint typecheck unit demo bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The orchestrator extras too: hexbatch.integrations.{airflow,dagster} are type-checked and
# tested on the real engines with the rest.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,airflow,dagster]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# One strict run over the package, its tests and the benchmarks, so a test cannot call the
# package in a way its types forbid. tests/integrations/ is left out until its Dagster test
# is annotated.
typecheck: $(STAMP)
	$(BIN)/mypy --strict hexbatch tests bench

unit: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: lint typecheck unit

# The demo's backfill has one bad date on purpose, so hexbatch exits 1 (some run did not
# complete); anything else is a real failure.
demo: $(STAMP)
	@$(BIN)/hexbatch run configs/demo.yaml --simulate --report-dir .hexbatch-demo/report; \
	code=$$?; \
	if [ $$code -le 1 ]; then echo "demo finished (exit code $$code); reports in .hexbatch-demo/report/"; else exit $$code; fi

bench: $(STAMP)
	@$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache .hexbatch-demo
