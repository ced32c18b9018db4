# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLUGIN_PROJECTS := $(wildcard plugins/*/pyproject.toml)

.PHONY: install run test lint bench schemas clean

install: $(STAMP)

$(STAMP): pyproject.toml $(PLUGIN_PROJECTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# the distributions were called hub and hub-* before; a venv from then would keep both
	$(BIN)/pip uninstall --quiet --yes hub hub-bundid hub-xmeld hub-bundesdruckerei hub-fitconnect hub-ozg-catalog 2>/dev/null || true
	$(BIN)/pip install --quiet -e '.[test,bench]' $(foreach p,$(dir $(PLUGIN_PROJECTS)),-e ./$(p))
	touch $(STAMP)

run: install
	$(BIN)/hub --config examples/hub.dev.toml serve --print-example

test: install
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
