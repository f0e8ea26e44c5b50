#!/bin/sh
# The static checks `make test` runs before the suite: ruff's lint and format check, and the
# import layers of jobs/ (import-linter; the contracts are in pyproject.toml, the layers in
# docs/architecture.md). Fix most lint findings with `.venv/bin/ruff check --fix .` and the
# format with `.venv/bin/ruff format .`.
set -e
BIN=${BIN:-.venv/bin}
"$BIN/ruff" check --quiet .
"$BIN/ruff" format --check --quiet .
layers=$("$BIN/lint-imports" --no-cache --no-logo) || { echo "$layers"; exit 1; }
echo "static checks: ruff and import-linter passed"
