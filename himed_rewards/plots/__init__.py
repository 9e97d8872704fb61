"""Plots (matplotlib, Agg backend, imported only when a plot is drawn): PNG and SVG files.

* :func:`plot_schedule`: alpha1 and alpha2 of a reward schedule over steps;
* :func:`plot_training`: per-level reward curves from ``trainer_state.json`` or a JSONL log;
* :func:`plot_distributions`: per-sample score histograms per system (eval score files).

Examples:
    >>> from himed_rewards.plots import LEVELS
    >>> LEVELS[:3]
    ('token', 'concept', 'format')
"""

from himed_rewards.plots.distributions import load_scores, plot_distributions
from himed_rewards.plots.schedule import plot_schedule
from himed_rewards.plots.training import LEVELS, load_log_history, plot_training, training_series

__all__ = ["LEVELS", "load_log_history", "load_scores", "plot_distributions", "plot_schedule",
           "plot_training", "training_series"]
