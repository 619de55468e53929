# Two set-up commands: `make demo` and `make test`; both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench lab clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m sora_nb.demo

lint: $(STAMP)
	$(BIN)/ruff check sora_nb tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab --ip=127.0.0.1

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
