# The two commands: `make run` (set up and start everything) and `make test` (the suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# `make run PORT=8080` or `make run ADDR=0.0.0.0:8080`; SITE_URL follows unless it is set.
PORT ?= 8000
ADDR ?= 127.0.0.1:$(PORT)

# `make install-prod`: the site alone, without the test tools (playwright, moto, ...).
.PHONY: install install-prod system-deps js-deps migrate demo run test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

install-prod:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet .$(if $(SENTRY),'[sentry]',)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seeddemo

# The demo data is loaded by runstack once Redis is up, so its demo jobs can queue their
# notifications (make demo alone works too, without Redis).
run: migrate
	$(BIN)/python manage.py runstack --addr $(ADDR) --seed

# The browser tests drive the Debian chromium package (never a downloaded browser); PDFs
# need DejaVu fonts for text beyond Latin-1; the subscriber tests start their own mosquitto
# and nats-server on free ports. Installed when missing and we are root (as in CI);
# otherwise the exact command is printed.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/truetype/dejavu ] || missing="$$missing fonts-dejavu-core"; \
	[ -x /usr/bin/pdftotext ] || missing="$$missing poppler-utils"; \
	[ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v mosquitto_pub >/dev/null 2>&1 || missing="$$missing mosquitto-clients"; \
	[ -x /usr/sbin/nats-server ] || missing="$$missing nats-server"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "--- installing$$missing (browser tests, PDF fonts and text checks, subscriber brokers, axe-core's npm)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "make test needs:$$missing. Install them with:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

# axe-core (the accessibility checks in tests/test_browser_a11y.py) comes from npm, pinned in
# tests/js/package-lock.json; `npm ci` runs again only when the lock file changed.
JS_STAMP := tests/js/node_modules/.installed
$(JS_STAMP): tests/js/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make test needs npm (for axe-core, tests/js/package.json). Install it with:"; echo "  sudo apt-get install -y nodejs npm"; exit 1; }
	npm ci --prefix tests/js --no-audit --no-fund
	touch $(JS_STAMP)

js-deps: $(JS_STAMP)

test: install system-deps js-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/bench_output.py
	$(BIN)/python bench/bench_export.py
	$(BIN)/python bench/bench_scale.py --exports 200 --workers 1,2 --storage local

clean:
	rm -rf $(VENV) staticfiles *.egg-info tests/js/node_modules
