# netstream-publisher: developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Interpreter resolution: PYTHON may be given on the command line; otherwise the first python3 on PATH
# that is 3.11 or newer. The project's own environment lives in .venv and is rebuilt when pyproject changes.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
             if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; \
             then command -v $$p; break; fi; done)
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install tools test lint typecheck fmt unit integration run bench clean

# Heavy command-line tools get a virtualenv of their own, so their pinned dependencies never constrain the
# service's. The stamp names the version: changing CHECKOV_VERSION reinstalls.
TOOLS           := .tools
CHECKOV_VERSION := 3.3.30
TOOLS_STAMP     := $(TOOLS)/.installed-checkov-$(CHECKOV_VERSION)

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python 3.11+ found; install python3 (>= 3.11) or run make PYTHON=/path/to/python3" >&2; exit 2; fi
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

$(TOOLS_STAMP):
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python 3.11+ found; install python3 (>= 3.11) or run make PYTHON=/path/to/python3" >&2; exit 2; fi
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	@rm -f $(TOOLS)/.installed-checkov-*
	@touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP) ## separate virtualenv (.tools) for heavy tools: checkov for the chart tests

lint: $(STAMP) ## ruff: lint and format check
	$(VPY) -m ruff check publisher tests
	$(VPY) -m ruff format --check publisher tests

typecheck: $(STAMP) ## mypy --strict on the package
	$(VPY) -m mypy

fmt: $(STAMP) ## format the code and apply safe lint fixes
	$(VPY) -m ruff format publisher tests
	$(VPY) -m ruff check --fix publisher tests

unit: $(STAMP) ## unit tests only (hermetic, fast)
	$(VPY) -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) ## integration tests only (embedded broker, real HTTP)
	$(VPY) -m pytest tests/integration $(PYTEST_ARGS)

test: lint typecheck tools ## lint, type check and the whole test suite (unit, integration, chart)
	$(VPY) -m pytest tests $(PYTEST_ARGS)

run: $(STAMP) ## run the demo: embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set); Ctrl-C stops it
	$(VPY) -m publisher.demo

bench: $(STAMP) ## benchmarks (speed and memory goals live here, never in tests)
	$(VPY) tests/bench/bench_state_memory.py

clean: ## remove the environment, caches and build output
	rm -rf $(VENV) $(TOOLS) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
