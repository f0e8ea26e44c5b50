# Two commands do everything: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
WITH_SERVICES := $(BIN)/python scripts/with_services.py --
PORT ?= 8000
export PORT

.PHONY: run test bench venv clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed

run: venv
	$(WITH_SERVICES) sh scripts/run.sh

test: venv
	$(WITH_SERVICES) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(WITH_SERVICES) $(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) db.sqlite3 test_db.sqlite3* staticfiles
