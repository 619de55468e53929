# Two set-up commands: `make demo` and `make test`; both create .venv when it is missing.
# `make check` is the fast tier while coding (lint + tests not marked slow or e2e).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test check lint bench lab clean

# requirements-gateway.txt: a real LiteLLM proxy for tests/gateway (why it is not an extra:
# see the file's header).
$(STAMP): pyproject.toml requirements-gateway.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]' -r requirements-gateway.txt
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check sora_nb tests benchmarks scripts
	$(BIN)/mypy

# Under a minute on the 2-core reference machine: everything but @pytest.mark.slow / e2e.
check: lint
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

# The unit, integration, kernel and browser tests, then every notebook through nbval
# against the embedded backend (nondeterministic outputs masked by sanitize.cfg).
test: lint
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest -p tests.notebooks.nbval_setup --nbval --nbval-current-env \
	    --nbval-sanitize-with tests/notebooks/sanitize.cfg notebooks

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lab: $(STAMP)
	SORA_NB_BACKEND=local JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter \
	    $(BIN)/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=notebooks

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
