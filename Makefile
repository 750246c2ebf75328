# The Hub's command surface. `make run` and `make test` are the two commands of the README.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
HUB := $(PYTHON) scripts/hub.py

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: install
install: $(VENV)/.installed node_modules/.installed ## Install Python and front-end dependencies
	$(HUB) assets

.PHONY: directus
directus: $(VENV)/.installed ## Install the pinned Directus and Node 22 into .directus/ (once; reused)
	$(HUB) directus

.PHONY: run
run: install ## Run the Hub (web, worker, beat) on http://127.0.0.1:8000/, with Directus on :8055 when installed
	$(HUB) run

.PHONY: test
test: install directus lint ## Run the whole test suite (a real Directus included), as CI does
	$(HUB) test $(ARGS)

.PHONY: reliability
reliability: install ## Storm, worker kills, outage, Redis and PostgreSQL down: full size, against gunicorn and a worker
	HV_RELIABILITY_STORM=$${HV_RELIABILITY_STORM:-10000} HV_RELIABILITY_KILLS=$${HV_RELIABILITY_KILLS:-50} \
		$(HUB) test tests/reliability -m reliability

.PHONY: bench
bench: install ## Measure the Hub against Directus REST and the SQL floor, and its throughputs: make bench SIZE=S|L
	$(HUB) bench --size $${SIZE:-S}

.PHONY: lint
lint: $(VENV)/.installed ## Check style with ruff, and the layers and import cycles with import-linter
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

.PHONY: format
format: $(VENV)/.installed ## Fix style with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: manage
manage: install ## Run a management command against the configured servers: make manage ARGS="shell"
	$(HUB) manage $(ARGS)
