"""Distributions of per-sample scores per system (from ``himed-rewards eval`` score files)."""

from __future__ import annotations

import json
from pathlib import Path

from himed_rewards.plots._mpl import paper_style, save
from himed_rewards.plots.labels import metric_label

__all__ = ["load_scores", "plot_distributions"]

_SKIP = {"id", "system"}


def load_scores(path: str | Path) -> tuple[str, dict[str, list[float]]]:
    """``(system, {metric: values})`` from a ``scores/<system>.jsonl`` file of the eval CLI.

    None values (e.g. a failed semantic judge) are left out.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = p.write_text('{"id": "1", "system": "a", "rougeL": 0.5, "himed": null}\\n')
        >>> load_scores(p)
        ('a', {'rougeL': [0.5], 'himed': []})
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
    """One histogram panel per metric, one outline colour per system; PNG, SVG and PDF.

    Every system of a panel shares the panel's bins; a dashed line marks each system's mean,
    which the legend also gives.

    Args:
        score_files: ``scores/<system>.jsonl`` files written by ``himed-rewards eval``.
        out_dir: folder for the figure files.
        metrics: score keys to plot (default: every key all files share).
        stem: file name without extension.

    Returns:
        The PNG (300 dpi), SVG and PDF paths.

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a.jsonl").write_text('{"rougeL": 0.5}\\n{"rougeL": 0.7}\\n')
        >>> [p.suffix for p in plot_distributions([d / "a.jsonl"], d)]
        ['.png', '.svg', '.pdf']
    """
    import numpy as np

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
    ncols = min(3, len(chosen))
    nrows = -(-len(chosen) // ncols)
    with paper_style() as plt:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows),
                                 squeeze=False)
        for k, metric in enumerate(chosen):
            ax = axes[k // ncols][k % ncols]
            pooled = np.concatenate([cols[metric] for _, cols in systems if cols[metric]])
            low, high = float(pooled.min()), float(pooled.max())
            bins = np.linspace(low, high if high > low else low + 1.0, 31)
            for j, (system, cols) in enumerate(systems):
                values = cols[metric]
                if not values:
                    continue
                colour = colours[j % len(colours)]
                mean = float(np.mean(values))
                ax.hist(values, bins=bins, histtype="step", linewidth=1.4, color=colour,
                        label=f"{system} (mean {mean:.3f}, n={len(values)})")
                ax.axvline(mean, color=colour, linestyle="--", linewidth=1.0)
            title, xlabel = metric_label(metric)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("reports (count)")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=1)
        for k in range(len(chosen), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        fig.suptitle("Per-report score distributions")
        fig.tight_layout()
        return save(fig, out_dir, stem)
