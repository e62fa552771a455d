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

K8S := $(filter-out deploy/k8s/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))

.PHONY: setup demo test unit lint check-deploy lock chaos stack-up stack-down events-doc docs bench efficacy

setup:
	@deploy/setup.sh

demo: setup
	$(PY) -m yieldloop demo

# Every drift of the zoo and a line that never drifts, end to end; not part of `make test`.
efficacy: setup
	$(PY) -m yieldloop efficacy

test: setup check-deploy
	$(PY) -m pytest $(PYTEST_ARGS)

# Fault injection on a stack of its own; ARGS=--quick runs one round of every scenario.
chaos: setup
	$(PY) -m yieldloop chaos $(ARGS)

unit: setup
	$(PY) -m pytest tests/unit

lint: setup check-deploy
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy

# The deployment files, offline (no Docker engine or cluster needed); tools pinned in pyproject.
check-deploy: setup
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/docker-compose -f docker-compose.yml config -q
	$(VENV)/bin/check-jsonschema -q --builtin-schema vendor.compose-spec docker-compose.yml
	$(VENV)/bin/kubernetes-validate --strict --quiet $(K8S)

# constraints.txt: exact versions of every dependency, resolved anew from pyproject's ranges.
lock:
	deploy/lock.sh

stack-up: setup
	$(PY) -m yieldloop stack up

stack-down: setup
	$(PY) -m yieldloop stack down

# Every figure side by side in one run, on a stack of its own: bench/results/latest.json.
bench: setup
	$(PY) -m bench.run

events-doc: setup
	$(PY) -m yieldloop events-doc --out docs/events.md

# docs/events.md and docs/asyncapi.json, regenerated from the code (tests fail when they differ)
docs: events-doc
	$(PY) -m yieldloop asyncapi-doc --out docs/asyncapi.json
