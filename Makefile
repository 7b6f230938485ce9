PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATA    ?= $(if $(wildcard ../shared/data),../shared/data,)
export SCRATCHLAB_DATA ?= $(DATA)
# Where only the shared CIFAR-10 sample exists (no network for the full archive), run on it.
SAMPLE  := $(wildcard ../shared/data/cifar-10-sample)
RUN_ARGS ?= $(if $(SAMPLE),--data-path $(SAMPLE),)

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The main job: reproduce DD2424 Assignment 1 and print where the report is.
run: $(STAMP)
	$(BIN)/scratchlab data list
	$(BIN)/scratchlab run experiments/assignment1.toml $(RUN_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# make bench BENCH_ARGS=--quick: the smoke run; each run writes benchmarks/results/<date>-...md
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
