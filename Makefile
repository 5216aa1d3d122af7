# murano-flow — everything a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MF     := $(BIN)/murano-flow

.PHONY: install demo test test-fast lint bench bench-quick clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install  ## deploy the web farm locally, show it answering, roll it back
	MF=$(MF) sh scripts/demo.sh

test: install  ## the whole suite: unit, CLI, local deployments, fuzzing
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -x -m "not slow"

lint: install
	$(BIN)/ruff check murano_flow agents tests blueprints scripts bench
	$(BIN)/mypy murano_flow agents/murano_flow_agent

bench: install  ## side-by-side benchmark vs a bare floor and TaskFlow (not part of make test)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run

bench-quick: install  ## the same up to 1,000 nodes, one run each
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run --quick --repeat 1

clean:
	rm -rf $(VENV) .murano-flow .pytest_cache .mypy_cache .ruff_cache *.egg-info
