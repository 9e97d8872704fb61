"""The reward schedule: alpha1 (low-level weight) and alpha2 (semantic weight) over steps."""

from __future__ import annotations

from pathlib import Path

from himed_rewards.plots._mpl import pyplot, save

__all__ = ["plot_schedule"]


def plot_schedule(schedule: object, steps: int, out_dir: str | Path,
                  stem: str = "schedule") -> list[Path]:
    """Plot ``schedule.alpha1`` and ``1 - alpha1`` for steps ``0..steps``; PNG + SVG paths.

    Examples:
        >>> import tempfile
        >>> from himed_rewards import LinearSchedule
        >>> paths = plot_schedule(LinearSchedule(T=100, alpha_min=0.1), 150, tempfile.mkdtemp())
        >>> [p.suffix for p in paths]
        ['.png', '.svg']
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not callable(getattr(schedule, "alpha1", None)):
        raise TypeError(f"schedule must have an alpha1(step) method, got "
                        f"{type(schedule).__name__}")
    n_points = min(steps + 1, 2001)
    xs = sorted({round(i * steps / (n_points - 1)) for i in range(n_points)})
    alpha1 = [schedule.alpha1(x) for x in xs]  # type: ignore[attr-defined]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(xs, alpha1, label=r"$\alpha_1$ (token + concept + format)", color="tab:blue")
    ax.plot(xs, [1 - a for a in alpha1], label=r"$\alpha_2 = 1 - \alpha_1$ (semantic)",
            color="tab:orange")
    ax.set_xlabel("training step $t$")
    ax.set_ylabel("weight")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Reward schedule: {_describe(schedule)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="center right")
    return save(fig, out_dir, stem)


def _describe(schedule: object) -> str:
    dump = getattr(schedule, "model_dump", None)
    if dump is None:
        return type(schedule).__name__
    fields = dump()
    kind = fields.pop("kind", type(schedule).__name__)
    return f"{kind} (" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"
