# Titrate — two commands: `make run` (the whole portal) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8000
SEED_DEMO ?= 1

.PHONY: run test lint format check-deploy migrate seed clean lock messages compilemessages

# One install for development: requirements-dev.txt is the runtime lock's exact versions plus the
# development tools (honcho for `make run`, the test and lint tools), every file's hash checked.
# The image and a VM install take requirements.txt alone (docs/deployment.md).
$(VENV)/.installed-dev: requirements-dev.txt requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

# The locks, from requirements.in (runtime) and requirements-dev.in (development; constrained to
# the runtime lock's versions). Pins already in a lock are kept: after adding a package to a .in
# file, `make lock` pins it and what it needs and nothing else moves. `make lock LOCK_ARGS=--upgrade`
# moves everything to the newest allowed, `LOCK_ARGS="--upgrade-package django"` one package.
# --universal: one lock for every platform and Python >= 3.11 (the image, a VM, a laptop).
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(VENV)/.installed-dev
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -c requirements.txt -o requirements-dev.txt

# Zero-setup defaults: DEBUG on, SQLite under var/, Celery's filesystem broker.
# Set DATABASE_URL / REDIS_URL to run the same stack on PostgreSQL and Redis.
run: export DJANGO_DEBUG ?= true
run: export TITRATE_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.installed-dev
	@# The compiled catalogue is committed; refresh it when GNU gettext is here (docs/i18n.md).
	@if command -v msgfmt >/dev/null; then $(BIN)/python manage.py compilemessages -l es --ignore=$(VENV) >/dev/null; fi
	$(BIN)/python manage.py migrate --noinput
	@if [ "$(SEED_DEMO)" = "1" ]; then $(BIN)/python manage.py seed_demo; fi
	$(BIN)/python manage.py sync_periodic_tasks
	@echo "Titrate on http://127.0.0.1:$(PORT)/ — web, worker and beat. Ctrl-C stops all three."
	TITRATE_PORT=$(PORT) PATH="$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

# One pytest-xdist worker per core, each with its own test database, cache keys and Celery queue
# (clinic/settings_test.py). The default --dist load hands each worker tests in collection order,
# so each keeps pytest-django's order: transactional tests, whose flush empties the data migrations'
# rows (the formulary, groups), after the rest. --dist loadfile broke about 300 tests that way, and
# loadgroup does not group under pytest 9.2 (pytest-xdist issue 1386). PYTEST_ARGS comes last:
# PYTEST_ARGS="-n 0" runs the suite in one process.
test: $(VENV)/.installed-dev
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=clinic.settings_test
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

# The deployment files (docs/deployment.md, "Compose file check"): compose.yaml against the Compose
# specification's JSON schema (pinned check-jsonschema), and `docker compose config` where Docker
# has the compose plugin (CI's machine has neither engine nor plugin).
check-deploy: $(VENV)/.installed-dev
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
	@if docker compose version >/dev/null 2>&1; then \
		tmp=$$(mktemp -d) && cp compose.yaml $$tmp/ && \
		sed 's/^POSTGRES_PASSWORD=$$/POSTGRES_PASSWORD=check-only/' .env.example > $$tmp/.env && \
		docker compose --project-directory $$tmp -f $$tmp/compose.yaml config --quiet && \
		echo "docker compose config: ok"; status=$$?; rm -rf $$tmp; exit $$status; \
	else echo "check-deploy: no docker compose plugin here; compose.yaml checked against the schema only"; fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var/ .pytest_cache .ruff_cache

# Performance benchmark (docs/performance.md): needs PostgreSQL and Redis of its own, e.g.
# DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/5 make bench
# Refuses a database holding anything but demo or bench rows. BENCH_PATIENTS=500 for a quick run.
BENCH_PATIENTS ?= 20000
.PHONY: bench
bench: $(VENV)/.installed-dev
	BENCH_PATIENTS=$(BENCH_PATIENTS) $(BIN)/python -m bench.run

# Fault tolerance (issue 6, docs/reliability.md): F1-F6 against real processes on their own
# PostgreSQL (5440) and Redis (6390); run as root. CHAOS_SCALE=ci is the reduced CI size.
CHAOS_SCALE ?= full
.PHONY: chaos loadtest loadtest-capacity
chaos: $(VENV)/.installed-dev
	CHAOS_SCALE=$(CHAOS_SCALE) $(BIN)/python -m chaos.run

# Load test with locust (docs/performance.md, "Load test"): patients, psychiatrists and admins
# signing in through the real login, against gunicorn with a Celery worker and beat, on a
# PostgreSQL database and a Redis database of its own (the database is emptied; one holding real
# users is refused), e.g.
# DATABASE_URL=postgres://postgres@127.0.0.1:5432/loadtest REDIS_URL=redis://127.0.0.1:6379/7 make loadtest
# 50 users for 2 minutes: LOADTEST_USERS, LOADTEST_SECONDS, LOADTEST_SPAWN_RATE, LOADTEST_THINK.
loadtest: $(VENV)/.installed-dev
	$(BIN)/python -m chaos.loadtest.run

# The highest number of users at which the mix keeps p95 < 500 ms with 0 errors (10, 20, 40, ...
# users, LOADTEST_SECONDS each, default 60), then the floor view's throughput on the same server.
loadtest-capacity: $(VENV)/.installed-dev
	LOADTEST_MODE=capacity $(BIN)/python -m chaos.loadtest.run

# Translations (issue 22, docs/i18n.md). `make messages` collects every string marked for translation
# into locale/es/LC_MESSAGES/django.po (new ones with an empty msgstr, to translate there);
# `make compilemessages` writes django.mo, which is committed (tests/test_spanish_pages.py checks
# it matches the .po). Both need GNU gettext (Debian: apt-get install gettext).
messages compilemessages: export DJANGO_DEBUG ?= true
I18N_IGNORE := --ignore=$(VENV) --ignore=var --ignore=static --ignore=bench --ignore=chaos --ignore=tests --ignore=docs
messages: $(VENV)/.installed-dev
	$(BIN)/python manage.py makemessages -l es --no-wrap --add-location=file $(I18N_IGNORE)
	@echo "Now translate the empty msgstr entries in locale/es/LC_MESSAGES/django.po, then: make compilemessages"

compilemessages: $(VENV)/.installed-dev
	$(BIN)/python manage.py compilemessages -l es --ignore=$(VENV)
