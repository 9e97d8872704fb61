"""Per-level reward curves from a training log.

Reads ``trainer_state.json`` (its ``log_history``) or a JSONL file of logged dicts (one per
line, as a ``himed-train`` run or a callback writes them). Every entry with a ``step`` is a
point. Recognised keys: ``<prefix>/<level>`` for the HiMed levels ``himed_train`` logs
(``token``, ``concept``, ``format``, ``low_level``, ``semantic``, ``total``, and
``alpha1`` / ``alpha2`` on a second panel; default prefix ``himed``), and TRL's own
``rewards/<RewardName>/mean`` and ``reward``.
"""

from __future__ import annotations

import json
from pathlib import Path

from himed_rewards.plots._mpl import paper_style, save
from himed_rewards.plots.labels import LEVEL_LABELS

__all__ = ["LEVELS", "load_log_history", "training_series", "plot_training"]

LEVELS = ("token", "concept", "format", "low_level", "semantic", "total")
ALPHAS = ("alpha1", "alpha2")


def load_log_history(path: str | Path) -> list[dict]:
    """The logged dicts of a ``trainer_state.json`` or a ``.jsonl`` log.

    Examples:
        >>> import json, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "trainer_state.json"
        >>> _ = p.write_text(json.dumps({"log_history": [{"step": 1, "himed/total": 0.2}]}))
        >>> load_log_history(p)
        [{'step': 1, 'himed/total': 0.2}]
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        data = json.loads(text)
        entries = data.get("log_history") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a trainer_state.json with a 'log_history' "
                             f"list, or a JSON list of logged dicts")
    return [e for e in entries if isinstance(e, dict)]


def training_series(entries: list[dict], prefix: str = "himed") -> dict[str, tuple[list, list]]:
    """``{key: (steps, values)}`` for every recognised key present in the log.

    Examples:
        >>> training_series([{"step": 1, "himed/token": 0.1, "rewards/HimedReward/mean": 0.3},
        ...                  {"step": 2, "himed/token": 0.2}])
        {'himed/token': ([1, 2], [0.1, 0.2]), 'rewards/HimedReward/mean': ([1], [0.3])}
    """
    wanted = {f"{prefix}/{name}" for name in LEVELS + ALPHAS} | {"reward"}
    series: dict[str, tuple[list, list]] = {}
    for entry in entries:
        step = entry.get("step")
        if not isinstance(step, int | float):
            continue
        for key, value in entry.items():
            trl_mean = key.startswith("rewards/") and key.endswith("/mean")
            if (key in wanted or trl_mean) and isinstance(value, int | float):
                steps, values = series.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))
    return series


_ALPHA_LABELS = {"alpha1": r"$\alpha_1$ (low level)", "alpha2": r"$\alpha_2$ (semantic)"}


def _panels(series: dict[str, tuple[list, list]], prefix: str) -> list[tuple[str, dict]]:
    """Group the series into panels: one per level (each has its own scale), TRL's reward
    curves with the total, the alphas together."""
    panels: dict[str, dict] = {}
    for key, curve in series.items():
        name = key.rsplit("/", 1)[-1] if key.startswith(f"{prefix}/") else None
        if name in ALPHAS:
            panel = "alpha"
        elif name in LEVELS:
            panel = name
        else:  # TRL's rewards/<name>/mean and reward: the total reward the trainer used
            panel = "total"
        panels.setdefault(panel, {})[key] = curve
    order = [*LEVELS, "alpha"]
    return [(name, panels[name]) for name in order if name in panels]


def _merge_identical(group: dict[str, tuple[list, list]]) -> list[tuple[str, list, list]]:
    """Curves with the same points are drawn once, labelled with every key (``a = b``)."""
    merged: dict[tuple, list[str]] = {}
    points: dict[tuple, tuple[list, list]] = {}
    for key in sorted(group):
        steps, values = group[key]
        signature = (tuple(steps), tuple(round(v, 9) for v in values))
        merged.setdefault(signature, []).append(key)
        points[signature] = (steps, values)
    return [(" = ".join(keys), *points[sig]) for sig, keys in merged.items()]


def plot_training(log: str | Path, out_dir: str | Path, prefix: str = "himed",
                  stem: str = "training") -> list[Path]:
    """Reward curves from a training log, one panel per level; PNG, SVG and PDF.

    Each level has its own panel and y-axis (token in [0, 1], format in {-1, +1}, semantic
    in [0, 3], ...); TRL's reward curves join the total reward's panel, and curves with
    identical points (``himed/total`` and TRL's mean reward) are drawn once.

    Args:
        log: ``trainer_state.json`` or a ``.jsonl`` of logged dicts.
        out_dir: folder for the figure files.
        prefix: prefix of the HiMed keys (``himed/token``, ...).
        stem: file name without extension.

    Returns:
        The PNG (300 dpi), SVG and PDF paths.

    Examples:
        >>> import json, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> rows = [{"step": s, "himed/low_level": s / 10, "himed/alpha1": 1 - s / 10}
        ...         for s in range(5)]
        >>> _ = (d / "log.jsonl").write_text("\\n".join(json.dumps(r) for r in rows))
        >>> [p.name for p in plot_training(d / "log.jsonl", d)]
        ['training.png', 'training.svg', 'training.pdf']
    """
    series = training_series(load_log_history(log), prefix)
    if not series:
        raise ValueError(f"{log}: no reward keys found (looked for {prefix}/<level> with "
                         f"level in {', '.join(LEVELS + ALPHAS)}, rewards/<name>/mean, reward)")
    panels = _panels(series, prefix)
    ncols = 1 if len(panels) == 1 else 2
    nrows = -(-len(panels) // ncols)
    with paper_style() as plt:
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.5 * nrows),
                                 sharex=True, squeeze=False)
        for k, (name, group) in enumerate(panels):
            ax = axes[k // ncols][k % ncols]
            curves = _merge_identical(group)
            for label, steps, values in curves:
                label = _ALPHA_LABELS.get(label.rsplit("/", 1)[-1], label)
                ax.plot(steps, values, label=label, marker="." if len(steps) < 50 else None,
                        linestyle="--" if label == _ALPHA_LABELS["alpha2"] else "-")
            title, ylabel = LEVEL_LABELS[name]
            ax.set_title(title)
            ax.set_ylabel(ylabel)
            if name == "alpha":
                ax.set_ylim(-0.03, 1.03)
            if len(curves) > 1 or name == "total":
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1)
        for k in range(len(panels), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        for col in range(ncols):  # x labels on the lowest visible panel of each column
            visible = [r for r in range(nrows) if r * ncols + col < len(panels)]
            if visible:
                axes[visible[-1]][col].set_xlabel("training step (optimizer steps)")
                axes[visible[-1]][col].xaxis.set_tick_params(labelbottom=True)
        fig.suptitle(f"HiMed rewards during training ({Path(log).name})")
        fig.tight_layout()
        return save(fig, out_dir, stem)
