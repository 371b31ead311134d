# tsunagu — every target sets up what it needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
ABRG_HOME ?= var/abrg
# Corporations in the corporate registry benchmark (5,000,000 = a full 全件 file).
CORP_SIZE ?= 5000000
export TSUNAGU_PORT ?= $(PORT)

.DEFAULT_GOAL := help
.PHONY: help install run test test-sqlite test-postgres lint bench bench-search bench-dcat bench-corporations bench-geocode bench-trust bench-ledger bench-datastore bench-mesh bench-quality abrg lock browser clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(BIN)/.installed ## Create the virtualenv and install pinned dependencies

run: install ## Start the demo federation: hub on http://127.0.0.1:$(PORT) (seed data) and four mesh nodes
	$(BIN)/tsunagu up

browser: ## Install Debian's Chromium for the browser tests (needs root or sudo)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

test: install browser ## Run the whole suite on SQLite, then on PostgreSQL ($(PG_TEST_URL))
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2 --dist loadfile
	TSUNAGU_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -n 2 --dist loadfile

test-sqlite: install ## Run the suite on SQLite only
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-postgres: install ## Run the suite on PostgreSQL only
	TSUNAGU_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -n 2 --dist loadfile

lint: install ## ruff, mypy --strict and import-linter
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: bench-search bench-dcat bench-corporations bench-geocode bench-trust bench-ledger bench-datastore bench-mesh bench-quality ## Every benchmark -> docs/benchmarks.md (takes about an hour at full size)

bench-search: install ## Catalog search at 1M datasets: SQLite, PostgreSQL, tantivy, Datasette
	$(BIN)/python -m bench.search --pg-url $(PG_TEST_URL)

bench-dcat: install ## DCAT-AP export of 100,000 datasets (time, peak memory)
	$(BIN)/python -m bench.dcat

bench-corporations: install ## Corporate registry import (and PostgreSQL's floor) vs raw bulk load, lookups, name search (CORP_SIZE rows, 5M: ~16 min)
	$(BIN)/python -m bench.corporations --size $(CORP_SIZE) --postgres $(PG_TEST_URL)

bench-geocode: install ## Address geocoder throughput on 100,000 addresses (abr-geocoder too if `make abrg` ran)
	TSUNAGU_ABRG=$(ABRG_HOME) $(BIN)/python -m bench.geocode

# better-sqlite3's prebuilt binaries live on GitHub (unreachable here), so node-gyp builds it, from the
# local Node.js headers when present rather than downloading them; bench/abrg-npm says why
# uWebSockets.js is a stub.
abrg: ## Install abr-geocoder 2.2.0 (npm; needs Node.js >= 20 and a C++ compiler) into $(ABRG_HOME)
	@command -v npm >/dev/null || { echo "npm is not installed"; exit 1; }
	mkdir -p $(ABRG_HOME)
	cp -R bench/abrg-npm/. $(ABRG_HOME)/
	cd $(ABRG_HOME) && if [ -z "$$npm_config_nodedir" ] && [ -f /usr/include/node/node_version.h ]; then \
	  export npm_config_nodedir=/usr; fi; npm ci --no-audit --no-fund

bench-trust: install ## JWS signs/verifies, RFC 3161 timestamps per second
	$(BIN)/python -m bench.trust

bench-ledger: install ## Transparency log appends and inclusion proofs at 10M entries
	$(BIN)/python -m bench.ledger --pg-url $(PG_TEST_URL)

bench-datastore: install ## Datastore load of a 1,000,000-row CSV vs COPY/executemany, Frictionless time
	$(BIN)/python -m bench.datastore --pg-url $(PG_TEST_URL)

bench-mesh: install ## Mesh round trips vs direct and vs the transport alone (concurrency 1/16/64), push notifications/s
	$(BIN)/python -m bench.mesh --pg-url $(PG_TEST_URL)

bench-quality: install ## Machine-readability check of a 50 MB XLSX (and the same rows as CSV)
	$(BIN)/python -m bench.quality

lock: ## Re-resolve requirements.lock from pyproject.toml
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --python $(BIN)/python

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
