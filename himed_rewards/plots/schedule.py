"""The reward schedule: alpha1 (low-level weight) and alpha2 (semantic weight) over steps."""

from __future__ import annotations

from pathlib import Path

from himed_rewards.plots._mpl import paper_style, save

__all__ = ["plot_schedule"]


def plot_schedule(schedule: object, steps: int, out_dir: str | Path,
                  stem: str = "schedule") -> list[Path]:
    """Plot ``schedule.alpha1`` and ``1 - alpha1`` for steps ``0..steps``; PNG, SVG and PDF.

    Args:
        schedule: any object with ``alpha1(step)`` (a reward schedule).
        steps: the last step on the x-axis.
        out_dir: folder for the figure files.
        stem: file name without extension.

    Returns:
        The PNG (300 dpi), SVG and PDF paths.

    Examples:
        >>> import tempfile
        >>> from himed_rewards import LinearSchedule
        >>> paths = plot_schedule(LinearSchedule(T=100, alpha_min=0.1), 150, tempfile.mkdtemp())
        >>> [p.suffix for p in paths]
        ['.png', '.svg', '.pdf']
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not callable(getattr(schedule, "alpha1", None)):
        raise TypeError(f"schedule must have an alpha1(step) method, got "
                        f"{type(schedule).__name__}")
    n_points = min(steps + 1, 2001)
    xs = sorted({round(i * steps / (n_points - 1)) for i in range(n_points)})
    alpha1 = [schedule.alpha1(x) for x in xs]  # type: ignore[attr-defined]
    with paper_style() as plt:
        fig, ax = plt.subplots(figsize=(4.8, 3.0))
        ax.plot(xs, alpha1, label=r"$\alpha_1(t)$: low level (token + concept + format)",
                color="tab:blue")
        ax.plot(xs, [1 - a for a in alpha1], label=r"$\alpha_2(t) = 1 - \alpha_1(t)$: semantic",
                color="tab:orange", linestyle="--")
        ax.set_xlabel("training step $t$ (optimizer steps)")
        ax.set_ylabel("weight (0-1)")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(0, steps)
        ax.set_title(f"Reward schedule: {_describe(schedule)}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)
        fig.tight_layout()
        return save(fig, out_dir, stem)


def _describe(schedule: object) -> str:
    dump = getattr(schedule, "model_dump", None)
    if dump is None:
        return type(schedule).__name__
    fields = dump()
    kind = fields.pop("kind", type(schedule).__name__)
    return f"{kind} (" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"
