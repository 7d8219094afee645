# Two commands set up a fresh machine: `make run` and `make test` (see README.md).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test unit integration browser-deps eval lint typecheck bench clean

setup: $(STAMP)

# Reinstalls only when pyproject.toml changes; torch is pinned there to the CPU build.
# setup-model then makes (or re-verifies) the ONNX export the query path embeds with.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/blueprints setup-model
	touch $(STAMP)

run: setup
	$(BIN)/blueprints ingest --if-empty
	$(BIN)/blueprints serve --host $(HOST) --port $(PORT)

test: setup lint typecheck browser-deps
	$(BIN)/pytest
	$(BIN)/blueprints eval --fresh-index --report .blueprints/eval-report

unit: setup
	$(BIN)/pytest -m "not integration and not browser"

integration: setup browser-deps
	$(BIN)/pytest -m "integration or browser"

# Debian's Chromium for the browser test (never a browser download).
browser-deps:
	bash scripts/ensure-chromium.sh

eval: setup
	$(BIN)/blueprints eval --report .blueprints/eval-report

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# Every benchmark, one after another (never two at once: they time the same two cores).
# Not part of `make test`; the scale run alone builds a 1,000-blueprint index (tens of minutes).
# docs/benchmarks.md records the figures and the command behind each.
bench: setup
	$(BIN)/python -m benchmarks.cold_cli
	$(BIN)/python -m benchmarks.server_ready
	$(BIN)/python -m benchmarks.ask_latency
	$(BIN)/python -m benchmarks.api_load
	$(BIN)/python -m benchmarks.embedding_speed
	$(BIN)/python -m benchmarks.ingest_throughput
	$(BIN)/python -m benchmarks.sync
	$(BIN)/python -m benchmarks.scale --blueprints 1000

clean:
	rm -rf .blueprints .pytest_cache .mypy_cache .ruff_cache
