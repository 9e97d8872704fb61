"""Lazy matplotlib (Agg backend), one print-ready style, and saving as PNG, SVG and PDF."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["pyplot", "paper_style", "save", "PNG_DPI", "FORMATS"]

#: Raster resolution of the PNG (journals ask for at least 300 dpi).
PNG_DPI = 300
#: Every figure is written in these formats: PNG for slides, SVG and PDF (vector) for papers.
FORMATS = ("png", "svg", "pdf")

# Sizes readable when a figure is scaled to one column (about 8.5 cm) of a paper.
_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "svg.fonttype": "none",  # text stays text in the SVG (searchable, editable)
    "pdf.fonttype": 42,  # TrueType in the PDF, as publishers require
}


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or a clear error naming the extra."""
    try:
        import matplotlib
    except ImportError as error:
        raise RuntimeError("plots need matplotlib: `pip install 'himed-rewards[eval]'`") from error
    matplotlib.use("Agg", force=True)  # files only: never open a window
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def paper_style() -> Iterator[Any]:
    """``pyplot`` with the print style applied for the duration of one figure."""
    plt = pyplot()
    with plt.rc_context(_STYLE):
        yield plt


def save(fig: Any, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``<stem>.png`` (300 dpi), ``.svg`` and ``.pdf`` into ``out_dir``.

    Returns:
        The written paths, PNG first.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.{fmt}" for fmt in FORMATS]
    for path in paths:
        fig.savefig(path, dpi=PNG_DPI, bbox_inches="tight")
    pyplot().close(fig)
    return paths
