# The two commands of the README: `make demo` and `make test`. Both create the virtualenv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup demo test lint manifest dagster bench clean

setup: $(VENV)/.installed

# Reinstall when the dependency list changes. uv (from PyPI) is much faster than pip here;
# plain pip is the fallback.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade uv || true
	if [ -x $(BIN)/uv ]; then \
		$(BIN)/uv pip install --compile-bytecode --python $(BIN)/python -e '.[test]'; \
	else \
		$(BIN)/python -m pip install --quiet -e '.[test]'; \
	fi
	touch $@

demo: setup
	$(BIN)/ticketing demo

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: setup
	$(BIN)/ruff check ticketing_pipeline tests benchmarks
	$(BIN)/ruff format --check ticketing_pipeline tests benchmarks

# Parse the dbt project once, ahead of time, so loading the Dagster definitions never has to.
manifest: setup
	$(BIN)/python -c "from ticketing_pipeline.defs.transform import prepare_dbt_manifest as p; print(p())"

dagster: manifest
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.dagster_home} $(BIN)/ticketing dagster-home
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.dagster_home} $(BIN)/dagster dev

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) data .dagster_home
