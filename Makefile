# Everything a fresh machine needs is installed from here: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9
DEMO_DIR ?= work/demo
DEMO_PARTNERS ?= 20000
DEMO_AS_OF ?= 2026-07-01
DEMO_PREVIOUS ?= $(shell date -u -d '$(DEMO_AS_OF) -7 days' +%Y-%m-%d)
# Scorings a month and three months earlier: the report's LTV and NPS-by-segment trends read them.
DEMO_MONTH_AGO ?= $(shell date -u -d '$(DEMO_AS_OF) -30 days' +%Y-%m-%d)
DEMO_QUARTER_AGO ?= $(shell date -u -d '$(DEMO_AS_OF) -90 days' +%Y-%m-%d)

# No telemetry from BentoML, MLflow or Evidently (no network here, and none wanted).
export BENTOML_DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: demo test bench install lock clean serve browser wrk

install: $(STAMP)

# The venv is rebuilt when pyproject.toml, the lock or this file changes; uv resolves in seconds where pip
# takes minutes. --compile-bytecode writes the packages' .pyc at install: where PYTHONDONTWRITEBYTECODE is set
# (as on this machine) every command would otherwise compile mlflow, lightgbm & co. anew, about 6 s a start.
$(STAMP): pyproject.toml requirements.lock Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

## Regenerate the pinned versions after changing dependencies in pyproject.toml.
lock:
	@test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)")
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements.lock

demo: $(STAMP)
	$(BIN)/partner-churn generate --partners $(DEMO_PARTNERS) --out $(DEMO_DIR)/data
	$(BIN)/partner-churn validate --data $(DEMO_DIR)/data
	$(BIN)/partner-churn summary --data $(DEMO_DIR)/data
	$(BIN)/partner-churn train --data $(DEMO_DIR)/data
	$(BIN)/partner-churn effects --data $(DEMO_DIR)/data
	$(BIN)/partner-churn score --data $(DEMO_DIR)/data --as-of $(DEMO_QUARTER_AGO) > /dev/null
	$(BIN)/partner-churn score --data $(DEMO_DIR)/data --as-of $(DEMO_MONTH_AGO) > /dev/null
	$(BIN)/partner-churn score --data $(DEMO_DIR)/data --as-of $(DEMO_PREVIOUS) > /dev/null
	$(BIN)/partner-churn score --data $(DEMO_DIR)/data --as-of $(DEMO_AS_OF)
	$(BIN)/partner-churn monitor drift --data $(DEMO_DIR)/data --as-of $(DEMO_AS_OF)

# Habits first (seconds): lint, format, the import layers, types; then the tests on both cores.
test: $(STAMP) browser
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

## Debian's chromium for the report's browser test (apt-get; idempotent).
browser:
	@bash scripts/install_browser.sh

## Debian's wrk for the scoring service's load points (apt-get; idempotent).
wrk:
	@bash scripts/install_wrk.sh

bench: $(STAMP) wrk
	$(BIN)/python -m bench.generate_bench
	$(BIN)/python -m bench.features_bench
	$(BIN)/python -m bench.train_bench
	$(BIN)/python -m bench.score_bench
	$(BIN)/python -m bench.drift_bench speed
	$(BIN)/python -m bench.serve_bench

## The scoring service on serving.port (3000) with the registered champions (`make demo` registers them).
serve: $(STAMP)
	$(BIN)/partner-churn serve

clean:
	rm -rf $(VENV) work
