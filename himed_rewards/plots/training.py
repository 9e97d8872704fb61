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

from himed_rewards.plots._mpl import pyplot, save

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


def plot_training(log: str | Path, out_dir: str | Path, prefix: str = "himed",
                  stem: str = "training") -> list[Path]:
    """Reward curves per level (and the schedule's alphas) from a training log; PNG + SVG.

    Examples:
        >>> import json, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> rows = [{"step": s, "himed/low_level": s / 10, "himed/alpha1": 1 - s / 10}
        ...         for s in range(5)]
        >>> _ = (d / "log.jsonl").write_text("\\n".join(json.dumps(r) for r in rows))
        >>> [p.name for p in plot_training(d / "log.jsonl", d)]
        ['training.png', 'training.svg']
    """
    series = training_series(load_log_history(log), prefix)
    if not series:
        raise ValueError(f"{log}: no reward keys found (looked for {prefix}/<level> with "
                         f"level in {', '.join(LEVELS + ALPHAS)}, rewards/<name>/mean, reward)")
    alphas = {k: v for k, v in series.items() if k.rsplit("/", 1)[-1] in ALPHAS}
    levels = {k: v for k, v in series.items() if k not in alphas}
    plt = pyplot()
    panels = int(bool(levels)) + int(bool(alphas))
    fig, axes = plt.subplots(panels, 1, figsize=(7, 3.2 * panels), sharex=True, squeeze=False)
    row = 0
    for group, ylabel in ((levels, "mean reward"), (alphas, "weight")):
        if not group:
            continue
        ax = axes[row][0]
        for key, (steps, values) in sorted(group.items()):
            ax.plot(steps, values, label=key, marker="." if len(steps) < 50 else None)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="best")
        row += 1
    axes[-1][0].set_xlabel("training step")
    axes[0][0].set_title(f"Rewards per level: {Path(log).name}")
    return save(fig, out_dir, stem)
