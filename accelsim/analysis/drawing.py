"""What every figure of accelsim shares: pyplot on the file-only backend, the save to PNG and
SVG (atomic, byte-for-byte repeatable), and the styles that keep dense and DropBack the same
colour in every figure. `figures.py` (results folders) and `study.py` (study folders) draw with
these; neither imports the other's drawing code."""

from __future__ import annotations

from pathlib import Path

from accelsim.io import atomic_path

# run -> (label, colour, marker), the same in every figure
RUN_STYLE = {"dense": ("dense", "#555555", "o"), "trace": ("DropBack", "#c0392b", "s")}
# the one direction of every ratio accelsim draws or prints: above 1 is a saving
RATIO_LABEL = "dense / DropBack (above 1: DropBack saves)"


def pyplot():
    """pyplot on the file-only Agg backend, imported at the first figure: it is slow to import
    and most commands draw nothing."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    # svg element ids are salted with a random uuid unless set: same inputs, same bytes
    matplotlib.rcParams["svg.hashsalt"] = "accelsim"
    import matplotlib.pyplot as plt

    return plt


def save(fig, out_dir, name) -> Path:
    """`fig` as `<out_dir>/<name>.png` and `.svg`, each written to a temporary and renamed;
    returns the PNG's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # the tight layout applied once, without leaving a layout engine on the figure:
    # `fig.tight_layout()` leaves a placeholder engine, and with any engine set `savefig`
    # draws the whole figure once more before drawing it for real (same bytes, a fifth slower)
    from matplotlib.layout_engine import TightLayoutEngine

    TightLayoutEngine().execute(fig)
    for ext in ("png", "svg"):
        with atomic_path(out_dir / f"{name}.{ext}") as tmp:
            # svg metadata off: same inputs give the same bytes
            fig.savefig(tmp, format=ext, dpi=130, metadata={"Date": None} if ext == "svg" else None)
    pyplot().close(fig)
    return out_dir / f"{name}.png"
