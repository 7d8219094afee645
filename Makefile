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

bench: setup
	$(BIN)/python benchmarks/ingest_throughput.py
	$(BIN)/python benchmarks/ask_latency.py
	$(BIN)/python benchmarks/api_load.py --ingest-bundled
	$(BIN)/python benchmarks/embedding_speed.py
	$(BIN)/python -m benchmarks.sync

clean:
	rm -rf .blueprints .pytest_cache .mypy_cache .ruff_cache
