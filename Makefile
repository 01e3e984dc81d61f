# The two set-up commands of the README: `make run` and `make test`. Both create .venv from the lock file.
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= data
CONFIG ?= configs/demo.yaml

.PHONY: run test test-slow lint typecheck bench lock clean

$(VENV)/.installed: requirements.lock pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $@

## Build the demo archive if absent, run the nightly flow once, then serve tiles + viewer on :8000.
run: $(VENV)/.installed
	$(VENV)/bin/sensing demo-data --config $(CONFIG) --if-absent
	$(VENV)/bin/sensing run nightly --config $(CONFIG)
	$(VENV)/bin/sensing serve --config $(CONFIG) --host 127.0.0.1 --port 8000

## The whole test suite, plus ruff and mypy on the library.
test: $(VENV)/.installed
	bash scripts/system-deps.sh
	$(VENV)/bin/ruff check sensing pipelines tests
	$(VENV)/bin/ruff format --check sensing pipelines tests
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

## The long reliability runs left out of `make test` (tile-server load, fault soaks): pytest -m soak.
test-slow: $(VENV)/.installed
	bash scripts/system-deps.sh
	$(PY) -m pytest -q -m soak

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check sensing pipelines tests
	$(VENV)/bin/ruff format --check sensing pipelines tests

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

## Benchmarks (not part of `make test`): JSON and summary.md in bench/results/, docs/performance.md
## explains them. Inputs are generated once under build/bench/ (a full Sentinel-2 tile: ~7 min).
bench: $(VENV)/.installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/w1.py --profile
	$(PY) bench/w1.py --scaling
	$(PY) bench/w3.py
	$(PY) bench/tiles.py
	$(PY) bench/water_body_date.py
	$(PY) bench/memory.py
	$(PY) bench/national.py
	$(PY) bench/summary.py

## Re-resolve the lock file from pyproject.toml (needs the package index).
lock:
	rm -rf build/lockenv && python3.11 -m venv build/lockenv
	build/lockenv/bin/pip install --quiet ".[dev]"
	build/lockenv/bin/pip freeze --exclude sensing > requirements.lock

clean:
	rm -rf $(VENV) build
