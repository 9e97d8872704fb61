"""Distributions of per-sample scores per system (from ``himed-rewards eval`` score files)."""

from __future__ import annotations

import json
from pathlib import Path

from himed_rewards.plots._mpl import pyplot, save

__all__ = ["load_scores", "plot_distributions"]

_SKIP = {"id", "system"}


def load_scores(path: str | Path) -> tuple[str, dict[str, list[float]]]:
    """``(system, {metric: values})`` from a ``scores/<system>.jsonl`` file of the eval CLI.

    None values (e.g. a failed semantic judge) are left out.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = p.write_text('{"id": "1", "system": "a", "rouge_l": 0.5, "himed": null}\\n')
        >>> load_scores(p)
        ('a', {'rouge_l': [0.5], 'himed': []})
    """
    path = Path(path)
    system = path.stem
    columns: dict[str, list[float]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            system = str(record.get("system", system))
            for key, value in record.items():
                if key in _SKIP:
                    continue
                values = columns.setdefault(key, [])
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values.append(float(value))
    if not columns:
        raise ValueError(f"{path}: no per-sample scores (expected the JSONL written by "
                         f"`himed-rewards eval --output-dir`)")
    return system, columns


def plot_distributions(score_files: list[str | Path], out_dir: str | Path,
                       metrics: list[str] | None = None,
                       stem: str = "distributions") -> list[Path]:
    """One histogram panel per metric, one colour per system; PNG + SVG paths.

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a.jsonl").write_text('{"rouge_l": 0.5}\\n{"rouge_l": 0.7}\\n')
        >>> [p.suffix for p in plot_distributions([d / "a.jsonl"], d)]
        ['.png', '.svg']
    """
    if not score_files:
        raise ValueError("score_files must name at least one scores JSONL file")
    systems = [load_scores(p) for p in score_files]
    common = [m for m in systems[0][1] if all(m in cols for _, cols in systems)]
    chosen = metrics or common
    unknown = [m for m in chosen if m not in common]
    if unknown:
        raise ValueError(f"metrics {unknown} are not in every file; available: {common}")
    chosen = [m for m in chosen if any(cols[m] for _, cols in systems)]
    if not chosen:
        raise ValueError("no metric has any value to plot")
    plt = pyplot()
    ncols = min(3, len(chosen))
    nrows = -(-len(chosen) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    for k, metric in enumerate(chosen):
        ax = axes[k // ncols][k % ncols]
        for system, cols in systems:
            if cols[metric]:
                ax.hist(cols[metric], bins=30, alpha=0.55, label=system)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    for k in range(len(chosen), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    axes[0][0].legend(fontsize="small")
    fig.suptitle("Per-sample score distributions")
    fig.tight_layout()
    return save(fig, out_dir, stem)
