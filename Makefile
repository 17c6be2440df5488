# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Local runs are for development: DEBUG on, a throwaway secret. Production sets both (see README).
export DEBUG ?= 1

.PHONY: run test test-fast lint format migrate seed worker beat web clean bench compose-check screenshots

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## make run: web on http://$(HOST):$(PORT), a Celery worker and beat beside it. Ctrl-C stops all three.
run: export SITE_URL = http://$(HOST):$(PORT)
run: seed
	@echo "Serving on http://$(HOST):$(PORT) with a Celery worker and beat (Ctrl-C stops all)."
	@bash -c 'trap "kill 0" EXIT; \
	  $(VENV)/bin/celery -A clinic worker --loglevel=INFO --concurrency=2 & \
	  $(VENV)/bin/celery -A clinic beat --loglevel=INFO & \
	  $(PY) manage.py runserver $(HOST):$(PORT)'

## make test: the whole suite. Set DATABASE_URL and REDIS_URL to test against PostgreSQL and Redis.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## make test-fast: everything but the real-browser tests, for quick local work.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

## make screenshots: PNGs of the main pages (desktop and phone) into docs/screenshots/, from a throwaway demo clinic.
screenshots: $(STAMP)
	$(PY) docs/make_screenshots.py

## make bench: timings and throughput at clinic-chain scale (needs PostgreSQL in DATABASE_URL, and wrk).
bench: $(STAMP)
	$(PY) bench/large.py
	$(PY) bench/throughput.py

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
