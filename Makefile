# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Local runs are for development: DEBUG on, a throwaway secret. Production sets both (see README).
export DEBUG ?= 1

.PHONY: venv lock code run test test-fast test-clock lint format migrate seed worker beat web clean bench compose-check screenshots

# The exact versions (and hashes) of every package come from requirements.lock (app + dev tools, here) and
# requirements-prod.lock (the app alone, the image): `make lock` writes both from pyproject.toml. -qq: pip
# would print one "Location ... is ignored" warning per package for each package index it does not hold.
PIP_INSTALL := $(PY) -m pip install -qq --disable-pip-version-check

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --require-hashes -r requirements.lock
	$(PIP_INSTALL) --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

## make lock: pin pyproject.toml's dependencies anew (keeps current pins where they still fit; UPGRADE=--upgrade
## moves everything to the newest allowed). Both files come from one resolution: prod is a subset of dev.
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 $(UPGRADE)
lock: $(STAMP)
	$(UV_COMPILE) --extra dev -o requirements.lock
	$(UV_COMPILE) --constraint requirements.lock -o requirements-prod.lock

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput --verbosity 0

seed: migrate
	$(PY) manage.py seed_demo

## make code: the demo clinic admin's current two-factor code (development only).
code: $(STAMP)
	@$(PY) manage.py two_factor_code admin@clinic.example

## make run: web on http://$(HOST):$(PORT), a Celery worker and beat beside it. Ctrl-C stops all three.
run: export SITE_URL = http://$(HOST):$(PORT)
# Ctrl-C reaches every process of the terminal's group: runserver stops on it, and the shell (which only
# notes it; `exec`: no shell in between that would die of it) then asks the worker and beat to stop
# (SIGTERM: a warm shutdown) and waits for them, so make sees a clean exit. The worker's banner, beat's
# minute-by-minute lines and the development-server warning are left out.
run: export DJANGO_RUNSERVER_HIDE_WARNING = true
# Celery's page-long warning when started as root (containers, CI machines); a developer's own user sees none.
run: export PYTHONWARNINGS = ignore:You're running the worker with superuser privileges
run: seed
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT)/ with a Celery worker and beat. Ctrl-C stops all three."
	@echo ""
	@exec bash -c 'trap : INT; \
	  $(VENV)/bin/celery --quiet -A clinic worker --loglevel=INFO --concurrency=2 & worker=$$!; \
	  $(VENV)/bin/celery --quiet -A clinic beat --loglevel=WARNING & beat=$$!; \
	  $(PY) manage.py runserver $(HOST):$(PORT); \
	  kill -TERM $$worker $$beat 2>/dev/null; wait; echo "Stopped: web, worker and beat."'

# The suite runs in parallel (pytest-xdist): one worker a core, each with its own test database (a copy of one
# migrated for the run, tests/template_db.py) and its own queues in Redis (tests/conftest.py).
# PYTEST_WORKERS=0 runs it in one process. Work stealing: a worker that runs out takes pending tests from the
# other, so the run does not end on one worker's queue of journeys and worker tests (load's fixed chunks):
# 250.2 s against 257.4 s, two idle pairs on 2 cores (docs/benchmarks.md, issue #16's seventh pass).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist worksteal
# The tests write bytecode even where PYTHONDONTWRITEBYTECODE is set (as in some containers): without it every
# process of a run (pytest's workers, the Celery workers and manage.py commands the tests start) compiles the
# project's modules again, and pytest rewrites the assertions of every module of its plugins' packages again
# (schemathesis, hypothesis, Faker: about 500 modules), 8 s of CPU a process (docs/testing.md).
test test-fast test-clock: export PYTHONDONTWRITEBYTECODE =

## make test: the whole suite. Set DATABASE_URL and REDIS_URL to test against PostgreSQL and Redis.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

## make test-fast: everything but the real-browser tests, for quick local work.
test-fast: $(STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not e2e" $(PYTEST_ARGS)

## make test-clock: the tests that read the clock (marked `clock`) again at the instants where a date computed
## from "now" goes wrong: just after midnight, a minute before opening, a minute before midnight, and both
## clock-change days (00:30 UTC: the last half hour of GMT in March; the first of the two 01:30s in October).
## Each is a run whose clock starts there and ticks (CLINIC_TEST_CLOCK, tests/conftest.py); the first run
## makes the test database and the others reuse it.
CLOCK_INSTANTS := 2026-06-15T00:30:00+01:00 2026-12-04T07:59:00+00:00 2026-12-31T23:59:00+00:00 \
                  2027-03-28T00:30:00+00:00 2026-10-25T00:30:00+00:00
CLOCK_TEST_FILES = $(shell grep -l "pytest.mark.clock" tests/test_*.py)
test-clock: $(STAMP)
	@fresh=--create-db; for instant in $(CLOCK_INSTANTS); do \
	  echo "--- the clock at $$instant"; \
	  CLINIC_TEST_CLOCK=$$instant $(PY) -m pytest -m clock -q -p no:cacheprovider --reuse-db $$fresh $(PYTEST_ARGS) $(CLOCK_TEST_FILES) || exit 1; \
	  fresh=; \
	done

## make screenshots: PNGs of the main pages (desktop and phone) into docs/screenshots/, from a throwaway demo clinic.
screenshots: $(STAMP)
	$(PY) docs/make_screenshots.py

## make bench: timings and throughput at clinic-chain scale (needs PostgreSQL in DATABASE_URL, and wrk), with
## issue #16's targets as ratios measured in the same run. BENCH_DATABASE=name uses another bench database.
BENCH_ARGS = $(if $(BENCH_DATABASE),--database $(BENCH_DATABASE))
bench: $(STAMP)
	$(PY) bench/large.py $(BENCH_ARGS)
	$(PY) bench/throughput.py $(BENCH_ARGS)
	$(PY) bench/sites.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

compose-check:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
