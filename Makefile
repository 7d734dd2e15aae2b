# Set-up is part of every target: a fresh machine needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BYTECODE := $(VENV)/.bytecode

.PHONY: demo test typecheck bytecode-tests bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	@# torch through pip, which reads this machine's pip configuration: pinned, the CPU wheel on
	@# disk (an unpinned torch pulls CUDA packages). --no-compile: pip would compile every
	@# module of every package, most of which nothing imports; tests/write_bytecode.py compiles
	@# what is used. Beside it, uv (a faster installer) puts accelsim and its dev tools, none of
	@# which needs torch, in the venv: seconds where pip takes about twenty. Then uv adds torch's
	@# own requirements. Where uv cannot be had or fails, pip installs all of it.
	$(BIN)/pip install -q --no-compile --no-deps torch==2.13.0 & torch=$$!; \
	if $(BIN)/pip install -q uv && $(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'; \
	then wait $$torch && $(BIN)/uv pip install -q --python $(BIN)/python torch==2.13.0; \
	else wait $$torch && $(BIN)/pip install -q --no-compile torch==2.13.0 -e '.[dev]'; fi
	touch $(STAMP)

$(BYTECODE): $(STAMP)
	$(BIN)/python tests/write_bytecode.py
	touch $(BYTECODE)

demo: $(BYTECODE)
	$(BIN)/accelsim demo

test: $(STAMP)
	$(BIN)/ruff check accelsim tests benchmarks
	@# mypy on one core while the other writes the bytecode the tests load
	$(MAKE) --no-print-directory -j 2 typecheck bytecode-tests
	$(BIN)/python -m pytest -n 2 --dist loadfile

typecheck: $(STAMP)
	$(BIN)/mypy

bytecode-tests: $(STAMP)
	$(BIN)/python tests/write_bytecode.py --tests
	touch $(BYTECODE)

bench: $(BYTECODE)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
