"""Build the API reference (HTML, from the docstrings) with pdoc: `python docs/build_api.py
[OUT]` writes OUT (default docs/api/) with one page per public module; open OUT/index.html.

The pages cover the names `accelsim` exports and the modules that define them;
tests/docs/test_docs.py builds them on every test run, so a renamed or undocumented name fails
there rather than in a user's browser. pdoc is in the dev extras (`pip install -e '.[dev]'`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# the modules a user of the Python API reads: the package (with `accelsim.train`, which it
# walks as an export), and where each other export lives
API_MODULES = (
    "accelsim",
    "accelsim.dropback.optimizer",
    "accelsim.trace.recorder",
    "accelsim.trace.format",
    "accelsim.sim.simulation",
    "accelsim.sim.results",
    "accelsim.config",
    "accelsim.app.sweep",
    "accelsim.analysis.figures",
)


def build(out: Path) -> list[Path]:
    """Write the reference into `out`; return the pages written."""
    import pdoc

    import accelsim

    # the package resolves its exports lazily; pdoc reads a module's own attributes (`train`
    # is also the subpackage's name, and the subpackage is callable: it stays)
    for name in accelsim.__all__:
        if name not in vars(accelsim):
            setattr(accelsim, name, getattr(accelsim, name))
    pdoc.render.configure(docformat="markdown", show_source=False,
                          footer_text="accelsim API reference")
    pdoc.pdoc(*API_MODULES, output_directory=Path(out))
    return sorted(Path(out).rglob("*.html"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "api"
    pages = build(target)
    print(f"{len(pages)} pages in {target}; open {target / 'index.html'}")
