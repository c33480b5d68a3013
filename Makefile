# The two commands of the README: `make run` (the bot) and `make test` (the whole suite).
# Each creates the virtual environment in .venv and installs what it needs first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run demo test lint bench catalogs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/hubbot run

demo: $(VENV)/.installed
	$(BIN)/hubbot demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m bot.cli.translations check

catalogs: $(VENV)/.installed-test
	$(BIN)/python -m bot.cli.translations update

test: lint
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python bench/match.py
