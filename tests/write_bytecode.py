"""Write the bytecode of what accelsim and its tests import, once, after `pip install
--no-compile` (the Makefile's set-up).

pip compiles every module of every package it installs, most of which nothing here imports:
on a 2-core machine that is about half of the set-up's time. Importing what is used instead
writes just those modules' `.pyc` files (even where PYTHONDONTWRITEBYTECODE is set, which would
otherwise leave every new interpreter compiling torch from source), and `make test` runs this
beside mypy. A module left out here still works; its first importer compiles it. With
`--tests` it also collects the test suite, so that pytest's assertion rewriting of every test
file is written once here rather than redone by each xdist worker.

    python tests/write_bytecode.py [--tests]
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import pkgutil
import sys
from pathlib import Path

# what the suite's processes import besides accelsim (kill_zygote.py's preloads, the DDP and
# dask tests, the API reference page, the test tools themselves)
THIRD_PARTY = (
    "numpy", "pandas", "pyarrow", "pyarrow.parquet", "pyarrow.dataset", "simpy", "yaml", "tqdm",
    "matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_svg", "matplotlib.image",
    "torch", "torch._dynamo", "torch.distributed", "torch.multiprocessing", "torch.nn.parallel",
    "dask", "dask.distributed", "pdoc", "hypothesis", "hypothesis.strategies", "pytest",
    "xdist", "xdist.plugin",
)


def main(argv: list[str]) -> int:
    sys.dont_write_bytecode = False  # the point of this script, whatever the environment says
    import matplotlib

    matplotlib.use("Agg")
    for name in THIRD_PARTY:
        importlib.import_module(name)
    import accelsim

    for module in pkgutil.walk_packages(accelsim.__path__, "accelsim."):
        spec = importlib.util.find_spec(module.name)
        # Python sources only: the C libraries in accelsim/native are loaded by ctypes
        if spec is not None and (spec.origin or "").endswith(".py"):
            importlib.import_module(module.name)
    if "--tests" in argv:
        import pytest

        # what it finds is pytest's to report in the run itself; only the cache matters here
        with contextlib.redirect_stdout(io.StringIO()):
            pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider",
                         str(Path(__file__).resolve().parent)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
