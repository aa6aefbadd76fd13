# Every target sets up what it needs: the virtualenv is made on first use and
# refreshed when setup.cfg changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run migrate test lint bench clean postgres chromium nettools promtool

$(STAMP): setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

instance:
	mkdir -p instance

## Bring the database to the latest schema, without serving
migrate: $(STAMP) instance
	$(BIN)/python -m app.migrate

## Start the service on http://$${CRONWELL_HOST:-127.0.0.1}:$${PORT:-8000} (gunicorn
## migrates the database first: gunicorn.conf.py)
run: $(STAMP) instance
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

## Run the whole test suite (installs PostgreSQL, Chromium, promtool and iproute2 for its
## tests when missing and root)
test: $(STAMP) postgres chromium nettools promtool
	$(BIN)/python -m pytest $(PYTEST_ARGS)

postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "Installing PostgreSQL for the test suite"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	    else echo "warning: PostgreSQL is not installed; its tests will be skipped (CI fails them)"; fi; }

# The UI tests drive Debian's chromium with Playwright (Playwright's own browser download
# is not used).
chromium:
	@command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "Installing Chromium for the UI tests"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "warning: Chromium is not installed; the UI tests will be skipped (CI fails them)"; fi; }

# The network-cut test makes hosts of its own (network namespaces joined by veth pairs,
# tests/support/netns.py) with iproute2's ip and util-linux's unshare, and removes them.
nettools:
	@command -v ip >/dev/null && command -v unshare >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "Installing iproute2 for the network-cut test"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 util-linux >/dev/null; \
	    else echo "warning: ip or unshare is missing; the network-cut test will be skipped (CI fails it)"; fi; }

# The operations guide's alert rules and the served metrics are checked with Prometheus'
# own promtool (from Debian's prometheus package; only promtool is used).
promtool:
	@command -v promtool >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "Installing promtool for the metrics tests"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	    else echo "warning: promtool is not installed; its tests will be skipped (CI fails them)"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
