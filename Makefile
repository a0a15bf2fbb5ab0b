# Two commands for a new user: `make demo` (nightly run + dashboards) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
VENV := $(ROOT)/.venv
UV := $(shell command -v uv 2>/dev/null || echo $(VENV)/uv-bootstrap/bin/uv)
export EXAMS_MODE ?= demo

help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

# ---- environments: one locked venv each, built from requirements/*.txt -------------------
$(VENV)/uv-bootstrap/bin/uv:
	python3 -m venv $(VENV)/uv-bootstrap && $(VENV)/uv-bootstrap/bin/pip install -q uv

uv: $(if $(shell command -v uv 2>/dev/null),,$(VENV)/uv-bootstrap/bin/uv)

$(VENV)/%/.synced: requirements/%.txt pyproject.toml | uv
	@test -x $(VENV)/$*/bin/python || $(UV) venv -q --python 3.11 $(VENV)/$*
	# bytecode compiled once here: every stage of every run would compile it again otherwise
	VIRTUAL_ENV=$(VENV)/$* $(UV) pip sync -q --compile-bytecode requirements/$*.txt
	VIRTUAL_ENV=$(VENV)/$* $(UV) pip install -q --no-deps -e .
	@touch $@

env-transform: $(VENV)/transform/.synced  ## dbt + great-expectations + the exams package
env-airflow: $(VENV)/airflow/.synced      ## Airflow 3 (orchestration only)
env-superset: $(VENV)/superset/.synced    ## Superset 6
envs: env-transform env-airflow env-superset  ## all three environments

lock: | uv  ## re-resolve the lock files (needs the package registry)
	for e in transform airflow superset; do \
	  $(UV) pip compile -q --python-version 3.11 requirements/$$e.in -o requirements/$$e.txt; done

# ---- data ------------------------------------------------------------------------------
sample: env-transform  ## regenerate the committed sample exports in data/raw/
	$(VENV)/transform/bin/exams generate --out data/raw --sample

check-export: env-transform  ## check one export before delivery: make check-export FILE=...
	$(VENV)/transform/bin/exams check-export "$(FILE)"

# ---- the two commands ---------------------------------------------------------------------
demo: envs  ## install, generate a sample if data/raw is empty, run the nightly DAG, serve dashboards
	@ls data/raw/*.csv >/dev/null 2>&1 || $(VENV)/transform/bin/exams generate --out data/raw --sample
	$(MAKE) pipeline
	$(MAKE) superset-setup
	$(MAKE) serve

test: envs chromium  ## install what the tests need and run them all
	$(VENV)/transform/bin/ruff check src dags tests benchmarks
	$(MAKE) lint-sql
	$(VENV)/transform/bin/pytest tests --ignore=tests/airflow --ignore=tests/airflow_prod
	$(VENV)/airflow/bin/pytest tests/airflow $(wildcard tests/airflow_prod)

# the models compiled as dbt builds them: the seeds are loaded into a scratch database first (the
# unit list is read from ref_epreuves when the SQL is compiled); a model dbt cannot compile fails
# the lint instead of being skipped
lint-sql: env-transform  ## lint the dbt models (sqlfluff, dbt templater)
	cd dbt_project && lint=$$(mktemp -d) && export EXAMS_BUILD_DB=$$lint/lint.duckdb \
		EXAMS_PUBLISH_DB=$$lint/lint.new.duckdb && \
	$(VENV)/transform/bin/dbt seed --quiet --profiles-dir . && \
	{ $(VENV)/transform/bin/sqlfluff lint models > $$lint/lint.log 2>&1; rc=$$?; cat $$lint/lint.log; \
	  test $$rc -eq 0 && ! grep -q "Skipped file" $$lint/lint.log; }

chromium:  ## Debian chromium for the browser tests (never `playwright install`)
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

run-local: env-transform  ## every stage without Airflow (exams run)
	$(VENV)/transform/bin/exams run

.PHONY: help uv envs env-transform env-airflow env-superset lock sample check-export demo test lint-sql \
	chromium run-local

-include mk/*.mk
