# The README's two commands: `make run` and `make test`. Both make their own virtual environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint format services chromium messages bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m config.run

# Start PostgreSQL and Redis when they are installed here but down (CI and developer machines).
services:
	@bash scripts/ensure-services.sh

# Debian's Chromium for the browser tests (Playwright never downloads a browser here) and a CJK
# font, so that Chinese renders in the screenshots. As root (CI) apt-get runs directly, otherwise
# through sudo.
chromium:
	@{ test -x /usr/bin/chromium && dpkg -s fonts-noto-cjk >/dev/null 2>&1; } || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's chromium and fonts-noto-cjk (for the browser tests)…"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk \
	    </dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy apps config
	$(BIN)/lint-imports

# Tests use their own Redis database (1) so that a running `make run` (database 0) is left alone;
# PostgreSQL gets a test_ database from pytest-django.
test: $(STAMP) services chromium lint
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/1} $(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks: every bench/<name>.py, run as `python -m bench.<name>` against the real services;
# underscore-prefixed modules (bench/_common.py, __init__.py) are their shared helpers.
bench: $(STAMP) services
	@set -e; found=0; for f in bench/*.py; do \
	  [ -e "$$f" ] || continue; \
	  case "$$(basename $$f)" in _*) continue;; esac; found=1; \
	  echo "== $$f"; $(BIN)/python -m bench.$$(basename $$f .py) $(BENCH_ARGS); \
	done; [ $$found = 1 ] || echo "No benchmarks yet (bench/*.py)."

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var
	$(BIN)/python manage.py makemessages -d djangojs -l zh_Hans --ignore=.venv --ignore=var --ignore=staticfiles
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var/*.sqlite3 staticfiles
