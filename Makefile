# One venv, one stamp: every target depends on `install`, which reinstalls only when
# pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck check site pytest bench system-packages clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/portal build
	$(BIN)/portal serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: install
	$(BIN)/portal check catalog

site: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir "$$(mktemp -d)"

# Installs chromium, postgresql and redis-server when this machine lets us (root with apt-get);
# otherwise the tests that need them are skipped with a plain message (never under CI=true).
system-packages:
	bash .ci/system-packages || true

pytest: install system-packages
	$(BIN)/pytest -q

test: lint typecheck check site pytest

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) site instance .pytest_cache .mypy_cache .ruff_cache
