# kubeblog: the verbs a newcomer needs. Each target installs what it needs itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
VERSION ?= $(shell $(PYTHON) -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")

.PHONY: run test lint image k8s-check drill bench lock clean venv version

## run: set up and serve the blog on SQLite with demo content at http://127.0.0.1:$(PORT), with its task worker
run: $(VENV)/.installed
	PORT=$(PORT) scripts/run-local.sh

## test: install what the tests need (Debian packages, Python packages) and run every suite
test: $(VENV)/.installed-dev
	scripts/system-deps.sh test
	scripts/test.sh

## lint: ruff (lint + format check)
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## image: build the container image kubeblog:$(VERSION) and kubeblog:dev
image:
	scripts/system-deps.sh image
	scripts/build-image.sh $(VERSION)

## k8s-check: render every kustomize overlay and validate it offline
k8s-check: $(VENV)/.installed-dev
	$(VENV)/bin/pytest -q tests/manifests

## drill: several replicas behind HAProxy, with load, while things break
drill: $(VENV)/.installed-dev
	scripts/system-deps.sh drill
	$(PY) -m tests.drill

## bench: throughput, latency, memory and cold start against nginx and bare Django; the task queue
bench: $(VENV)/.installed-dev
	scripts/system-deps.sh bench
	$(PY) -m bench
	$(PY) -m bench.tasks

## version: print the release version (pyproject.toml, the one place it is set)
version:
	@echo $(VERSION)

## lock: re-pin the dependencies from pyproject.toml
lock: $(VENV)/.installed-dev
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --generate-hashes -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.lock | $(VENV)/bin/python
	$(VENV)/bin/pip install -q --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements-dev.lock pip-tools
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build staticfiles
