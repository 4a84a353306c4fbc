# mhc-pipeline. Two commands from a fresh clone:  make demo   and   make test
# Each installs what it needs into .venv (exact versions from requirements.lock) on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint dev docs bench bench-cycle soak lock clean stop

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## demo: embedded PostgreSQL + simulator, one full cycle of every source, dbt build, current state
demo: $(STAMP)
	$(BIN)/mhc demo

## test: the whole test suite (real PostgreSQL, real HTTP to the simulator, real dbt)
test: $(STAMP)
	$(BIN)/python -m pytest

## lint: ruff on the Python (rules in pyproject.toml), sqlfluff on the dbt SQL (dbt_project/.sqlfluff); .ci/run runs it
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/tests --processes 2

## dev: the Dagster UI with every schedule running, on the same database and the simulator
dev: $(STAMP)
	$(BIN)/mhc dev

## docs: the dbt docs site (dbt docs generate --static), served on http://127.0.0.1:8080
docs: $(STAMP)
	$(BIN)/mhc docs

## bench: the benchmarks in bench/ (figures printed side by side)
bench: $(STAMP)
	$(BIN)/python bench/bench_affiliate_landing.py
	$(BIN)/python bench/bench_simulator_world.py
	$(BIN)/python bench/bench_cbhours.py
	$(BIN)/python bench/bench_legacy_import.py

## bench-cycle: the cost that repeats (CPU-s of one 5-minute cycle and one CBHours minute, 1 and 7 days of history)
bench-cycle: $(STAMP)
	$(BIN)/python bench/bench_cycle.py

## soak: `mhc dev` for an hour on a fresh database: failed runs, merged-state lag, CPU share, chart
soak: $(STAMP)
	$(BIN)/python bench/soak.py --minutes 60

## lock: re-pin requirements.lock from the current .venv
lock:
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -E '^(mhc-pipeline|pip)==' > requirements.lock

## stop: stop the embedded PostgreSQL
stop: $(STAMP)
	$(BIN)/mhc db stop

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache test-output
