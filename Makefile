# The README's commands. Everything runs from the project's own virtualenv (.venv), which is
# created on first use and installed from the lock file (requirements-dev.txt, pinned with
# hashes); it is reinstalled only when pyproject.toml or the lock changes. If pyproject.toml's
# dependencies changed without `make lock`, the install stops and says so.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Test processes run side by side by pytest-xdist (each with its own database and Redis
# database, see tests/conftest.py); TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 3

.DEFAULT_GOAL := help

LOCK := requirements-dev.txt

.PHONY: help run test lint format lock lock-upgrade audit translations bench-smoke bench-fanout bench-steady bench-report bench-board bench-imports bench-metrics bench-links bench-load bench-reconcile bench-memory soak simulate clean

help:
	@echo "make run           migrate, seed and start web + worker + scheduler (Ctrl-C stops all)"
	@echo "make test          run the test suite in $(TEST_WORKERS) processes (PYTEST_ARGS='-k outbox' to"
	@echo "                   narrow it, TEST_WORKERS=0 for one process)"
	@echo "make lint          ruff check and ruff format --check"
	@echo "make format        sort imports and format with ruff"
	@echo "make lock          resolve pyproject.toml's ranges again into uv.lock and requirements*.txt"
	@echo "make lock-upgrade  the same, moving every pin to the newest release in range"
	@echo "make audit         report vulnerable pins (pip-audit) and newer releases"
	@echo "make translations  extract marked strings (messages.pot: candidates; staff.pot: staff, English only),"
	@echo "                   update app/translations/*/messages.po, compile .mo"
	@echo "make bench-smoke   every benchmark and the soak at a tiny size: each still runs and prints"
	@echo "                   its last line (bench/smoke.py; CI runs it)"
	@echo "make bench-fanout  run bench/fanout.py (fan-out benchmark, against its physical limit)"
	@echo "make bench-steady  run bench/steady.py (a stream of single stage changes, fork and simple workers)"
	@echo "make bench-report  run bench/report.py (overdue report at 1M applications, PostgreSQL)"
	@echo "make bench-board   run bench/board.py (pipeline board with 2,000 applications, PostgreSQL)"
	@echo "make bench-imports run bench/imports.py (CSV import of 5,000 candidates into a position)"
	@echo "make bench-metrics run bench/metrics.py (a /metrics scrape at 1M notifications, PostgreSQL)"
	@echo "make bench-links   run bench/link_requests.py (\"email me a new link\": known vs unknown)"
	@echo "make bench-load    run bench/load.py (a recruiter's flows under gunicorn at 50 stage changes/s,"
	@echo "                   against a hello-world app under the same gunicorn; PostgreSQL)"
	@echo "make bench-reconcile run bench/reconcile.py (a reconciler pass at 1M settled + 10k stale)"
	@echo "make bench-memory  run bench/memory.py (the RQ workers' RSS through 30 minutes of work)"
	@echo "make soak          run bench/soak.py (chaos soak)"
	@echo "make simulate      run bench/simulate.py (a seeded agency quarter; SIM_ARGS='--scale 0.05')"
	@echo "make clean         remove caches and build leftovers (keeps .venv and instance/)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Exactly the locked set (hashes checked), then this project itself without its
# dependencies: nothing is resolved at install time.
$(STAMP): pyproject.toml $(LOCK) | $(PY)
	@$(PY) devtools/lock.py check
	$(PY) -m pip install --require-hashes -r $(LOCK)
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Resolve again after changing pyproject.toml (pins that still fit are kept) ...
lock: | $(PY)
	$(PY) devtools/lock.py write

# ... or move every pin to the newest release its range allows.
lock-upgrade: | $(PY)
	$(PY) devtools/lock.py upgrade

# Exit 1: a pin has a known vulnerability; 2: the vulnerability service could not be asked.
audit: $(STAMP)
	$(PY) devtools/lock.py audit

# Candidates' languages (app/languages.py): extract what is marked for translation, merge it
# into each language's .po (new strings appear untranslated; tests/test_i18n.py names them),
# then compile the .mo files the app reads. Both are committed: see app/translations/README.
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_ngettext:1,2 --no-location --omit-header --sort-output -o app/translations/messages.pot .
	$(VENV)/bin/pybabel extract -F babel-staff.cfg -k _l -k lazy_ngettext:1,2 --no-location --omit-header --sort-output -o app/translations/staff.pot .
	$(VENV)/bin/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d app/translations --statistics

run: $(STAMP)
	$(PY) -m devtools.run

# Compiled bytecode is kept (in the __pycache__ folders git ignores) even where the
# environment says PYTHONDONTWRITEBYTECODE (some shells and containers do): every xdist
# worker rewrites and compiles each test module, and every process a test starts (RQ
# workers, gunicorn, `flask`, `make run`) imports the app. Without a cache each of them
# compiled it all again: 10 CPU-s per worker's collection instead of 3, and 0.25-0.35 s more
# for each of the dozens of processes the suite starts.
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS)) $(PYTEST_ARGS)

# Both checks always run, so one pass reports every problem.
lint: $(STAMP)
	@status=0; \
	echo "ruff check ."; $(PY) -m ruff check . || status=1; \
	echo "ruff format --check ."; $(PY) -m ruff format --check . || status=1; \
	exit $$status

format: $(STAMP)
	$(PY) -m ruff check --select I --fix .
	$(PY) -m ruff format .

bench-smoke: $(STAMP)
	$(PY) bench/smoke.py

bench-fanout: $(STAMP)
	$(PY) bench/fanout.py

bench-steady: $(STAMP)
	$(PY) bench/steady.py

bench-report: $(STAMP)
	$(PY) bench/report.py

bench-board: $(STAMP)
	$(PY) bench/board.py

bench-imports: $(STAMP)
	$(PY) bench/imports.py

bench-metrics: $(STAMP)
	$(PY) bench/metrics.py

bench-links: $(STAMP)
	$(PY) bench/link_requests.py

bench-load: $(STAMP)
	$(PY) bench/load.py

bench-reconcile: $(STAMP)
	$(PY) bench/reconcile.py

bench-memory: $(STAMP)
	$(PY) bench/memory.py

soak: $(STAMP)
	$(PY) bench/soak.py

SIM_ARGS ?=
simulate: $(STAMP)
	$(PY) bench/simulate.py $(SIM_ARGS)

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info test-artifacts bench/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
