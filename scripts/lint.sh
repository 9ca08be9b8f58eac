#!/usr/bin/env bash
# `make lint` (and the first step of `make test`): ruff's rules, ruff's formatting
# and mypy over every Python folder. Needs only the checkout's .venv.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$PRAZIUM_ROOT/scripts/venv.sh"
cd "$PRAZIUM_ROOT"
folders=(kit operator api cli appgen tests bench charts scripts)
say "lint: ruff check, ruff format --check, mypy"
.venv/bin/python -m ruff check "${folders[@]}"
.venv/bin/python -m ruff format --check "${folders[@]}" >/dev/null \
  || { .venv/bin/python -m ruff format --check "${folders[@]}"; die "run: .venv/bin/python -m ruff format ${folders[*]}"; }
.venv/bin/python -m mypy  # its folders: [tool.mypy] files in pyproject.toml
