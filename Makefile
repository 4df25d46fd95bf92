# Switchboard: every verb a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# Test infrastructure runs on its own ports so it never collides with `make run`.
TEST_KAFKA_PORT ?= 19092
TEST_PG_PORT ?= 54329

.PHONY: help install lint format test test-faults test-unit test-integration test-e2e bench bench-quick run kafka-up kafka-down clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/switchboard: $(UV) uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml cli/pyproject.toml standins/pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(BIN)/switchboard ## install the pinned Python environment (.venv) and fetch Kafka
	bash deploy/local/kafka.sh fetch

lint: $(BIN)/switchboard ## ruff, mypy and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(BIN)/switchboard ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint ## everything: lint, then unit, integration, e2e and the quick fault drills on a real Kafka and PostgreSQL
	KAFKA_PORT=$(TEST_KAFKA_PORT) PG_PORT=$(TEST_PG_PORT) bash deploy/local/with-test-infra.sh $(BIN)/pytest -m "not faults or quick"

test-faults: install ## every fault-injection scenario, 3 runs each (table in .run/faults/results.jsonl)
	SWITCHBOARD_FAULT_RUNS=3 KAFKA_PORT=$(TEST_KAFKA_PORT) PG_PORT=$(TEST_PG_PORT) bash deploy/local/with-test-infra.sh $(BIN)/pytest -m faults tests/faults

test-unit: $(BIN)/switchboard ## unit tests only (no Kafka, no database)
	$(BIN)/pytest -m "not kafka and not postgres and not e2e"

test-integration: install ## integration tests on a real Kafka and PostgreSQL
	KAFKA_PORT=$(TEST_KAFKA_PORT) PG_PORT=$(TEST_PG_PORT) bash deploy/local/with-test-infra.sh $(BIN)/pytest -m "(kafka or postgres) and not e2e"

test-e2e: install ## end-to-end tests: the three services as processes
	KAFKA_PORT=$(TEST_KAFKA_PORT) PG_PORT=$(TEST_PG_PORT) bash deploy/local/with-test-infra.sh $(BIN)/pytest -m "e2e and not faults"

# Benchmarks get a broker and database of their own, apart from tests and `make run`.
BENCH_KAFKA_PORT ?= 18092
BENCH_PG_PORT ?= 54319

bench: install ## throughput and latency report (.run/bench/): ceiling, each stage, whole pipeline, burst, RSS
	KAFKA_PORT=$(BENCH_KAFKA_PORT) PG_PORT=$(BENCH_PG_PORT) KAFKA_HEAP=1g bash deploy/local/with-test-infra.sh $(BIN)/python -m tests.bench.run_bench

bench-quick: install ## the same, a quarter of the volume
	KAFKA_PORT=$(BENCH_KAFKA_PORT) PG_PORT=$(BENCH_PG_PORT) KAFKA_HEAP=1g bash deploy/local/with-test-infra.sh $(BIN)/python -m tests.bench.run_bench --quick

run: install ## Kafka, the three services and a demo feed; Ctrl-C stops everything
	bash deploy/local/run.sh

kafka-up: install ## start the local Kafka broker (port 9092) and leave it running
	bash deploy/local/kafka.sh start

kafka-down: ## stop the local Kafka broker
	bash deploy/local/kafka.sh stop

clean: ## stop local brokers and databases and delete their data
	-bash deploy/local/kafka.sh clean
	-KAFKA_PORT=$(TEST_KAFKA_PORT) bash deploy/local/kafka.sh clean
	-PG_PORT=$(TEST_PG_PORT) bash deploy/local/postgres.sh clean
	rm -rf .run
