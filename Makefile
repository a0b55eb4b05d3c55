# Everything starts from python3 and make: the first target that needs the venv builds it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo demo-once demo-one-hub dev test test-fast fuzz chaos lint fmt bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)          ## the nine launch hubs linked (vhub dev --hubs all) + launch-week across them, then serve
	$(BIN)/vhub demo --hubs all

demo-once: $(STAMP)     ## the same, exiting after the figures table at central
	$(BIN)/vhub demo --hubs all --once

demo-one-hub: $(STAMP)  ## the fallback: one standalone hub serving every province, the same campaign
	$(BIN)/vhub demo

dev: $(STAMP)           ## the embedded stack in the foreground (Ctrl-C stops it)
	$(BIN)/vhub dev

# Two workers (pytest-xdist), whole files to each (--dist loadfile: a module's shared stack is started
# once), in collection order (--no-loadscope-reorder: xdist's default sends the files with the most
# tests first, which left the long one-test fault files, chaos among them, to one worker at the end).
# Every worker has its own nats-server, scratch dirs and PostgreSQL databases; ports are free_port's.
TEST_WORKERS ?= 2

test: $(STAMP)          ## the whole suite: real nats-server, SQLite and PostgreSQL, a short chaos run
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

fuzz: $(STAMP)          ## the property tests (marker "property") with the large hypothesis profile
	VHUB_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -p no:cacheprovider -m property --timeout=3600

lint: $(STAMP)          ## ruff, formatting, mypy --strict, and the architecture's import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

chaos: $(STAMP)         ## the chaos test at full size: a larger campaign, every process SIGKILLed more often
	VHUB_CHAOS=full $(BIN)/python -m pytest -q -s -p no:cacheprovider -m chaos --timeout=3600

bench: $(STAMP)         ## benchmarks as ratios to baselines measured in the same run
	$(BIN)/python -m bench

bench-hubs: $(STAMP)    ## linked hubs under faults at scale: a cut of 100,000 events, catch-up time at central
	VHUB_TEST_HUBS=full VHUB_TEST_CUTOFF_EVENTS=$${EVENTS:-100000} VHUB_TEST_FIGURES=$${FIGURES:-bench/results/hubs.jsonl} \
		$(BIN)/python -m pytest -q -s -p no:cacheprovider tests/integration/test_hub_faults.py

docs: $(STAMP)          ## regenerate docs/asyncapi.json and docs/openapi.json (tests compare them)
	$(BIN)/python -m vhub.asyncapi > docs/asyncapi.json
	$(BIN)/python -m services.reporting.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
