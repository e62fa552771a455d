# `make demo` runs the whole loop on the demo line; `make test` runs every test.
# Both set themselves up first (idempotent): see deploy/setup.sh.
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/yieldloop
VENV ?= $(CACHE)/venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
ARGS ?=
export YIELDLOOP_VENV := $(VENV)
export PYTHONPATH := $(CURDIR)
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false

.PHONY: setup demo test unit lint chaos stack-up stack-down events-doc bench efficacy

setup:
	@deploy/setup.sh

demo: setup
	$(PY) -m yieldloop demo

# Every drift of the zoo and a line that never drifts, end to end; not part of `make test`.
efficacy: setup
	$(PY) -m yieldloop efficacy

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Fault injection on a stack of its own; ARGS=--quick runs one round of every scenario.
chaos: setup
	$(PY) -m yieldloop chaos $(ARGS)

unit: setup
	$(PY) -m pytest tests/unit

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

stack-up: setup
	$(PY) -m yieldloop stack up

stack-down: setup
	$(PY) -m yieldloop stack down

events-doc: setup
	$(PY) -m yieldloop events-doc --out docs/events.md
