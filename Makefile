# Set-up is part of every target: a fresh machine needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BYTECODE := $(VENV)/.bytecode

.PHONY: demo test typecheck bytecode-tests bench clean

$(STAMP): pyproject.toml
	@# The venv is made without pip (ensurepip alone takes 4 s): this Python's pip installs into
	@# it (pip >= 22.3, --python), pip itself among the packages. Where that pip cannot, the
	@# venv gets its own first.
	@# torch through pip, which reads this machine's pip configuration: pinned, the CPU wheel on
	@# disk (an unpinned torch pulls CUDA packages). --no-compile: pip would compile every
	@# module of every package, most of which nothing imports; tests/write_bytecode.py compiles
	@# what is used. Beside it, uv (a faster installer) puts accelsim and its dev tools, none of
	@# which needs torch, in the venv: seconds where pip takes about twenty. Then uv adds torch's
	@# own requirements. Where uv cannot be had or fails, pip installs all of it.
	$(PY) -m venv --without-pip $(VENV)
	pip="$(PY) -m pip --python $(BIN)/python"; \
	$$pip --version >/dev/null 2>&1 || { $(BIN)/python -m ensurepip -q && pip=$(BIN)/pip; }; \
	$$pip install -q --no-compile --no-deps torch==2.13.0 & torch=$$!; \
	if $$pip install -q pip uv && $(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'; \
	then wait $$torch && $(BIN)/uv pip install -q --python $(BIN)/python torch==2.13.0; \
	else wait $$torch && $$pip install -q --no-compile pip torch==2.13.0 -e '.[dev]'; fi
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
