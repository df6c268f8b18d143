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

.PHONY: help install tools compiled test test-compiled lint typecheck fmt unit integration chaos audit fuzz run bench instructions docs writers clean

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

lint: $(STAMP) ## ruff (lint and format check) and bandit (no high-severity finding in publisher/)
	$(VPY) -m ruff check publisher tests setup.py
	$(VPY) -m ruff format --check publisher tests setup.py
	$(VPY) -m bandit -c pyproject.toml -r publisher -q --severity-level high

typecheck: $(STAMP) ## mypy --strict on the package
	$(VPY) -m mypy

fmt: $(STAMP) ## format the code and apply safe lint fixes
	$(VPY) -m ruff format publisher tests setup.py
	$(VPY) -m ruff check --fix publisher tests setup.py

unit: $(STAMP) ## unit tests only (hermetic, fast)
	$(VPY) -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) ## integration tests only (embedded broker, real HTTP)
	$(VPY) -m pytest tests/integration $(PYTEST_ARGS)

# The compiled build (docs/performance.md): the modules named in publisher/buildinfo.py compiled with mypyc,
# in place, in a copy of the package under build/compiled; rebuilt when a source changes. PYTHONSAFEPATH
# keeps the working directory (the interpreted sources) off sys.path, for child processes too, so the
# compiled copy on PYTHONPATH is what runs; the tests check that it is (PUBLISHER_EXPECT_COMPILED).
COMPILED       := build/compiled
COMPILED_STAMP := $(COMPILED)/.built
COMPILED_RUN   := PYTHONSAFEPATH=1 PYTHONPATH=$(COMPILED)
# the broker tests of the compiled modules: the pipeline read back with read_committed, the producer
COMPILED_INTEGRATION := tests/integration/test_pipeline.py tests/integration/test_producer.py \
	tests/integration/test_crash_recovery.py::test_a_second_process_of_the_same_shard_fences_the_first

$(COMPILED_STAMP): $(STAMP) setup.py pyproject.toml README.md $(shell find publisher schemas -name '*.py' -o -name '*.avsc')
	rm -rf $(COMPILED) && mkdir -p $(COMPILED)
	cp -r setup.py pyproject.toml README.md schemas publisher $(COMPILED)/
	find $(COMPILED) -name __pycache__ -type d -prune -exec rm -rf {} +
	cd $(COMPILED) && PUBLISHER_COMPILE=1 $(CURDIR)/$(VPY) setup.py --quiet build_ext --inplace > build.log 2>&1 \
		|| { cat build.log; echo "error: the compiled build failed (it needs gcc and the Python headers); see above" >&2; exit 1; }
	@touch $(COMPILED_STAMP)

compiled: $(COMPILED_STAMP) ## compile the hot modules with mypyc into build/compiled (for test-compiled and bench)

test-compiled: $(COMPILED_STAMP) ## the unit tests and the pipeline's broker tests against the compiled build
	$(COMPILED_RUN) PUBLISHER_EXPECT_COMPILED=1 $(VPY) -m pytest tests/unit $(COMPILED_INTEGRATION) $(PYTEST_ARGS)

test: lint typecheck tools ## lint, type check, the whole test suite (unit, integration, chart), then test-compiled
	$(VPY) -m pytest tests $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-compiled

chaos: lint typecheck tools fuzz ## the reliability scenarios at full size (long; see docs/reliability.md)
	PUBLISHER_CHAOS=full $(VPY) -m pytest tests/integration/reliability --timeout=3600 $(PYTEST_ARGS)

run: $(STAMP) ## run the demo: embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set); Ctrl-C stops it
	$(VPY) -m publisher.demo

# The benchmarks also need matplotlib (the `bench` extra) for their plot; `make test` does not.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

# BENCH_BUILD=interpreted measures the pure-Python package instead of the compiled build.
BENCH_BUILD ?= compiled

bench: $(BENCH_STAMP) $(if $(filter compiled,$(BENCH_BUILD)),$(COMPILED_STAMP)) ## benchmarks: tables, then name=value lines (BENCH_SIZE=quick|default|full)
	PYTHONSAFEPATH=1 PYTHONPATH=$(if $(filter compiled,$(BENCH_BUILD)),$(COMPILED):)tests $(VPY) -m bench

instructions: $(BENCH_STAMP) $(COMPILED_STAMP) ## instructions per reading of parse and publish, counted by callgrind (needs valgrind)
	PYTHONSAFEPATH=1 PYTHONPATH=$(COMPILED):tests $(VPY) -m bench.instructions

# Known vulnerabilities of every package installed in .venv, from the PyPI advisory database, by pip-audit in
# a virtualenv of its own. --strict turns "could not be audited" into a failure: an unreachable or incomplete
# database fails the target loudly, never passes it silently.
AUDIT               := .audit
PIP_AUDIT_VERSION   := 2.10.1
AUDIT_STAMP         := $(AUDIT)/.installed-pip-audit-$(PIP_AUDIT_VERSION)

$(AUDIT_STAMP):
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python 3.11+ found; install python3 (>= 3.11) or run make PYTHON=/path/to/python3" >&2; exit 2; fi
	@test -x $(AUDIT)/bin/python || $(PYTHON) -m venv $(AUDIT)
	$(AUDIT)/bin/python -m pip install --quiet --disable-pip-version-check 'pip-audit==$(PIP_AUDIT_VERSION)'
	@rm -f $(AUDIT)/.installed-pip-audit-*
	@touch $(AUDIT_STAMP)

audit: $(STAMP) $(AUDIT_STAMP) ## vulnerability scan of .venv's packages; fails loudly if the database is unreachable
	@$(VPY) -m pip freeze --disable-pip-version-check --exclude-editable > $(AUDIT)/requirements.txt
	@$(AUDIT)/bin/pip-audit --requirement $(AUDIT)/requirements.txt --no-deps --disable-pip --strict \
		--vulnerability-service pypi --progress-spinner off \
	|| { echo "error: the vulnerability scan FAILED: a package has a known vulnerability, or the advisory" \
		"database could not be reached or did not know a package (see above); nothing may be assumed safe" >&2; exit 1; }

# Coverage-guided fuzzing of the parser with atheris (the `fuzz` extra): FUZZ_SECONDS long, seeded from the
# bad-input corpus; new inputs and any crash reproducer are kept under build/fuzz/.
FUZZ_SECONDS ?= 600
FUZZ_STAMP   := $(VENV)/.installed-fuzz

$(FUZZ_STAMP): $(STAMP)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev,fuzz]'
	@touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP) ## fuzz the response parser with atheris for FUZZ_SECONDS (default 600)
	@mkdir -p build/fuzz/corpus
	$(VPY) tests/fuzz/fuzz_parser.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ -print_final_stats=1 build/fuzz/corpus tests/corpus/parser

docs: $(STAMP) ## regenerate docs/configuration.md from the settings model
	$(VPY) -m publisher.configdoc > docs/configuration.md

writers: $(STAMP) ## regenerate publisher/kafka/avro_generated.py (the prebuilt event writer) from the schemas
	@mkdir -p build
	$(VPY) -m publisher.pipeline.writers > build/avro_generated.py && mv build/avro_generated.py publisher/kafka/avro_generated.py

clean: ## remove the environment, caches and build output
	rm -rf $(VENV) $(TOOLS) $(AUDIT) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
