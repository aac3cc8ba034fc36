# The two commands of the quick start: `make demo` and `make test`.
# Each creates its own virtualenv in .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: test test-fast lint bench demo fuzz clean compose-up screenshots docs

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "baton needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# most tests wait on servers they start (Postgres, baton, kubesim), not on a core: three
# workers, each test file on one of them (its servers and fixtures stay together)
TEST_WORKERS ?= 3

test: $(VENV)/.installed
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# the domain, health, config and event-vocabulary tests: seconds, for the edit-test loop
test-fast: $(VENV)/.installed
	$(PY) -m pytest tests/domain tests/health tests/config $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check engine projections api kubesim console baton tests bench
	$(VENV)/bin/ruff format --check engine projections api kubesim console baton tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile

# schemathesis over every API operation, as every role, against a real `baton serve`
# (at least 2,000 requests; minutes, so not part of `make test`); non-zero on any 5xx
fuzz: $(VENV)/.installed
	$(PY) -m tests.api.fuzz $(ARGS)

# a PNG of each console page, in headless Chromium (Debian's chromium), into docs/screenshots
screenshots: $(VENV)/.installed
	$(PY) -m tests.console.screenshots $(ARGS)

# the generated references in docs/ (CLI, configuration, REST API, import contracts), from the code
docs: $(VENV)/.installed
	$(PY) -m baton.docs

demo: $(VENV)/.installed
	$(PY) -m baton demo $(ARGS)

bench: $(VENV)/.installed
	$(PY) bench/append.py
	$(PY) bench/replay.py
	$(PY) bench/kubesim.py
	$(PY) bench/git_poll.py
	$(PY) bench/reconcile.py
	$(PY) bench/health_watch.py
	$(PY) bench/api.py
	$(PY) bench/outage.py
	$(PY) bench/health.py
	$(PY) bench/web.py

# Postgres, Jaeger (UI on :16686), a k3s cluster and baton (API on :8080); needs Docker
compose-up:
	docker compose up --build

clean:
	rm -rf $(VENV) .baton
