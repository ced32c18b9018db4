# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLUGIN_PROJECTS := $(wildcard plugins/*/pyproject.toml)

CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser run test lint bench schemas clean

install: $(STAMP)

# The console's browser tests drive Debian's Chromium through Playwright (no browser download).
browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

$(STAMP): pyproject.toml $(PLUGIN_PROJECTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# the distributions were called hub and hub-* before; a venv from then would keep both
	$(BIN)/pip uninstall --quiet --yes hub hub-bundid hub-xmeld hub-bundesdruckerei hub-fitconnect hub-ozg-catalog 2>/dev/null || true
	$(BIN)/pip install --quiet -e '.[test,bench]' $(foreach p,$(dir $(PLUGIN_PROJECTS)),-e ./$(p))
	touch $(STAMP)

# `make run SAMPLE=1`: a sample year (examples/hub.sample.toml, its own store under var/sample)
# fed once through the real intake, then served; SAMPLE_SCALE=1 is the full year (~4 minutes).
SAMPLE_SCALE ?= 0.25
SAMPLE_DB    := var/sample/hub.db

run: install
ifdef SAMPLE
	@mkdir -p var/sample
	@[ -f $(SAMPLE_DB) ] || $(BIN)/hub --config examples/hub.sample.toml report sample-year --scale $(SAMPLE_SCALE)
	@echo "Figures: GET /v1/reports/cases (token dev-token-not-for-production); console: hub --config examples/hub.sample.toml staff add ops --role ops --municipality '*', then http://127.0.0.1:8080/console/evaluation/"
	$(BIN)/hub --config examples/hub.sample.toml serve
else
	$(BIN)/hub --config examples/hub.dev.toml serve --print-example
endif

test: install browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/dispatch.py

schemas: install
	$(BIN)/hub schemas export schemas/

clean:
	rm -rf $(VENV) var .pytest_cache
