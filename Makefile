# The README's commands. Everything runs from the project's own virtualenv (.venv), which is
# created on first use and reinstalled only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help run test lint format bench-fanout bench-report bench-board bench-imports bench-links soak clean

help:
	@echo "make run           migrate, seed and start web + worker + scheduler (Ctrl-C stops all)"
	@echo "make test          run the test suite (PYTEST_ARGS='-k outbox' to narrow it)"
	@echo "make lint          ruff check and ruff format --check"
	@echo "make format        sort imports and format with ruff"
	@echo "make bench-fanout  run bench/fanout.py (fan-out benchmark)"
	@echo "make bench-report  run bench/report.py (overdue report at 1M applications, PostgreSQL)"
	@echo "make bench-board   run bench/board.py (pipeline board with 2,000 applications, PostgreSQL)"
	@echo "make bench-imports run bench/imports.py (CSV import of 5,000 candidates into a position)"
	@echo "make bench-links   run bench/link_requests.py (\"email me a new link\": known vs unknown)"
	@echo "make soak          run bench/soak.py (chaos soak)"
	@echo "make clean         remove caches and build leftovers (keeps .venv and instance/)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m workers.dev

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Both checks always run, so one pass reports every problem.
lint: $(STAMP)
	@status=0; \
	echo "ruff check ."; $(PY) -m ruff check . || status=1; \
	echo "ruff format --check ."; $(PY) -m ruff format --check . || status=1; \
	exit $$status

format: $(STAMP)
	$(PY) -m ruff check --select I --fix .
	$(PY) -m ruff format .

bench-fanout: $(STAMP)
	$(PY) bench/fanout.py

bench-report: $(STAMP)
	$(PY) bench/report.py

bench-board: $(STAMP)
	$(PY) bench/board.py

bench-imports: $(STAMP)
	$(PY) bench/imports.py

bench-links: $(STAMP)
	$(PY) bench/link_requests.py

soak: $(STAMP)
	$(PY) bench/soak.py

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info test-artifacts bench/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
