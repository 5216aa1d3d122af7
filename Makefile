# murano-flow — everything a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MF     := $(BIN)/murano-flow

.PHONY: install demo test test-fast lint bench bench-quick bench-amqp bench-engines bench-transports clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install  ## deploy the web farm locally, show it answering, roll it back
	MF=$(MF) sh scripts/demo.sh

test: install  ## the whole suite: unit, CLI, local and agent deployments, real broker, fuzzing
	sh scripts/services.sh
	$(BIN)/python -m pytest -q

test-fast: install  ## without the tests that need a real service or inject faults
	$(BIN)/python -m pytest -q -x -m "not integration and not faults"

lint: install
	$(BIN)/ruff check murano_flow agents tests blueprints scripts bench
	$(BIN)/mypy murano_flow agents/murano_flow_agent

bench: install  ## side-by-side benchmark vs a bare floor and TaskFlow (not part of make test)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run

bench-quick: install  ## the same up to 1,000 nodes, one run each
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run --quick --repeat 1

bench-amqp: install  ## plan round trips through the real broker vs raw pika (1 and 10 agents)
	sh scripts/services.sh
	$(BIN)/python -m bench.amqp | tee bench/results/amqp.txt

bench-engines: install  ## 1, 2 and 3 engine services on PostgreSQL + RabbitMQ; journal cost
	sh scripts/services.sh
	$(BIN)/python -m bench.engines

bench-transports: install  ## per action over SSH and local processes vs OpenSSH, Ansible raw; agent round trips
	sh scripts/services.sh
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.transports | tee bench/results/transports.txt
	$(BIN)/python -m bench.amqp | tee bench/results/amqp.txt

clean:
	rm -rf $(VENV) .murano-flow .pytest_cache .mypy_cache .ruff_cache *.egg-info
