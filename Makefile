PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATA    ?= $(if $(wildcard ../shared/data),../shared/data,)
export SCRATCHLAB_DATA ?= $(DATA)
# Where only the shared CIFAR-10 sample exists (no network for the full archive), run on it.
SAMPLE  := $(wildcard ../shared/data/cifar-10-sample)
RUN_ARGS ?= $(if $(SAMPLE),--data-path $(SAMPLE),)

.PHONY: install run test lint bench clean syslibs

# Pango for WeasyPrint (scratchlab report --format pdf): installed with apt-get where it is
# missing and we are root; elsewhere a note, never a failure (only PDF output needs it).
PANGO_PKGS := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
syslibs:
	@if ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(PANGO_PKGS)) >/dev/null \
	  || echo "note: could not install $(PANGO_PKGS); --format pdf will say what is missing"; \
	else echo "note: Pango not found; for --format pdf install $(PANGO_PKGS) (or brew install pango)"; fi

$(STAMP): pyproject.toml
	@$(MAKE) -s syslibs
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
# torch: the CPU build on this workplace's disk where none is installed (a bare `torch` from
# PyPI would be a multi-GB CUDA build); any torch >= 2.1 works.
bench: $(STAMP)
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
