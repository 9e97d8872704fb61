"""Plain-text tables for terminal output (no dependency)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table", "fmt"]


def fmt(value: object) -> str:
    """A cell: floats with 3 decimals, None as an em dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+.3f}" if value < 0 else f"{value:.3f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces.

    Examples:
        >>> print(format_table(["a", "b"], [[1, 0.5]]))
        a  b
        -  -----
        1  0.500
    """
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
