# Tamtam: `make run` runs the whole system on this machine; `make test` runs every test.
# Both set everything up on a fresh machine (Python 3.11+, Java 17+, Maven, Node 20 needed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run stop test test-fast bench lint migrate install kafka-jars pds clean help

help:
	@echo "make run    - start Kafka, migrate, run the five services (Ctrl-C or make stop ends it)"
	@echo "make test   - the whole test suite, on a real Kafka broker"
	@echo "make stop   - stop everything make run started"
	@echo "make bench  - benchmarks (var/bench/report.md)"
	@echo "make lint   - ruff"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

kafka-jars: $(STAMP)
	$(BIN)/python -m shared.localkafka fetch

pds:
	@if [ -f infra/pds/setup.sh ]; then bash infra/pds/setup.sh; fi

run: install kafka-jars
	$(BIN)/tamtam run

stop: install
	$(BIN)/tamtam stop

migrate: install
	$(BIN)/tamtam migrate

# Runs a command with a broker: one is started if none is running (and KAFKA_BOOTSTRAP_SERVERS
# is unset), and stopped afterwards only if this run started it.
with-broker = started=0; \
	if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ] && ! $(BIN)/python -m shared.localkafka status >/dev/null 2>&1; then \
		$(BIN)/python -m shared.localkafka start && started=1; fi; \
	$(1); status=$$?; \
	if [ $$started = 1 ]; then $(BIN)/python -m shared.localkafka stop; fi; \
	exit $$status

test: install kafka-jars pds
	@$(call with-broker,$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS))

# BENCH_ARGS: names of benchmarks to run alone (e.g. BENCH_ARGS=publish_lateness).
bench: install kafka-jars
	@$(call with-broker,$(BIN)/python -m bench $(BENCH_ARGS))

# A bounded fault scenario (own broker on 127.0.0.1:19092, two publish and ingest replicas,
# SIGKILLs, a broker restart, sandbox faults); exits non-zero if a post is duplicated or lost.
.PHONY: chaos
chaos: install kafka-jars
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

lint: install
	$(BIN)/ruff check shared services plugins tests bench

clean:
	rm -rf var
