# Set-up is part of every target: a fresh machine needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# one pip run (the venv's own pip installs editable packages; upgrading it first only costs
	# time): torch pinned, the CPU wheel on disk (an unpinned torch pulls CUDA packages), with
	# accelsim and its dev tools
	$(BIN)/pip install -q torch==2.13.0 -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/accelsim demo

test: $(STAMP)
	$(BIN)/ruff check accelsim tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
