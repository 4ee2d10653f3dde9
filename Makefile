# Everything a fresh machine needs (Python 3.11, Java 17, Maven) is installed by these targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
KAFKA_PORT ?= 9092
REPLICAS ?= 1

.PHONY: help setup bench bench-quick run test unit demo dlq dlq-replay rebuild-mypage kafka-up kafka-down kafka-cli k8s-render lint fmt schemas board postgres-up postgres-down clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup:  ## install uv (if missing), the Python workspace and the Kafka jars
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --quiet --all-packages
	@infra/kafka/kafka.sh fetch

run: setup  ## Kafka, identity-service and the four services; REPLICAS=2: two of each on PostgreSQL; Ctrl-C stops all
	@echo "open http://127.0.0.1:8080 once the system below is up"
	@$(UV) run python -m testkit.launcher --kafka-port $(KAFKA_PORT) --replicas $(REPLICAS)

BENCH ?= full

bench: setup  ## throughput and latency beside the box's limits, one run (BENCH=quick|full|long)
	@command -v wrk >/dev/null || apt-get install -y wrk || sudo apt-get install -y wrk
	@$(UV) run python -m testkit.bench --mode $(BENCH)

bench-quick:  ## the bench in about two minutes (what CI may run)
	@$(MAKE) --no-print-directory bench BENCH=quick

test: setup  ## the whole suite: unit, integration (real Kafka, SQLite and PostgreSQL), end to end
	$(UV) run pytest

unit: setup  ## the fast suite: unit tests only (fakes, no broker, no processes), in seconds
	$(UV) run pytest -q shared-events/tests service-kit/tests/unit ops/tests/unit */tests/unit web/tests tests/docs tests/harness

demo: setup  ## the seed scenarios over HTTP against a running `make run`
	@$(UV) run python -m testkit.demo

dlq: setup  ## list the parked messages of every consumer (SERVICE=mypage-service for one)
	@$(UV) run python -m fooddelivery_ops dlq list --bootstrap 127.0.0.1:$(KAFKA_PORT) $(if $(SERVICE),--service $(SERVICE))

dlq-replay: setup  ## republish parked messages: ARGS="--service S --partition P --offset O | --all [--dry-run]"
	@$(UV) run python -m fooddelivery_ops dlq replay --bootstrap 127.0.0.1:$(KAFKA_PORT) $(ARGS)

rebuild-mypage: setup  ## rebuild mypage's read model from the topics into a fresh database (ARGS=...)
	@FOODDELIVERY_DATA_DIR=.local/run/db $(UV) run python -m fooddelivery_ops rebuild --bootstrap 127.0.0.1:$(KAFKA_PORT) $(ARGS)

kafka-up: setup  ## start the broker on 127.0.0.1:$(KAFKA_PORT) and create the topics
	@KAFKA_PORT=$(KAFKA_PORT) infra/kafka/kafka.sh up
	@$(UV) run python -m fooddelivery_ops topics --bootstrap 127.0.0.1:$(KAFKA_PORT)

kafka-down:  ## stop the broker
	@KAFKA_PORT=$(KAFKA_PORT) infra/kafka/kafka.sh down

kafka-cli:  ## Kafka's own tools on the broker: ARGS="consumer-groups --describe --all-groups" (or topics --describe, ...)
	@KAFKA_PORT=$(KAFKA_PORT) infra/kafka/kafka-cli.sh $(ARGS)

k8s-render: setup  ## print the Kubernetes manifests of an overlay: OVERLAY=local|production
	@$(UV) run python -m testkit.kustomize deploy/k8s/overlays/$(or $(OVERLAY),local)

postgres-up:  ## a local PostgreSQL with one database per service (installed if absent)
	@infra/postgres/postgres.sh up

postgres-down:
	@infra/postgres/postgres.sh down

lint: setup  ## ruff, then mypy (strict on the contract, domain and service layers)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

fmt: setup
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

schemas: setup  ## rewrite shared-events/schemas/*.json from the event models
	$(UV) run python -m shared_events.schemas write

board: setup  ## regenerate docs/board.md and docs/asyncapi.yaml from the code
	@$(UV) run python -m testkit.board write

clean:  ## stop everything and forget all local data (databases, broker logs)
	-@infra/kafka/kafka.sh down
	-@infra/postgres/postgres.sh down
	rm -rf .local
