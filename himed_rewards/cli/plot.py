"""``himed-rewards plot``: schedule, training curves and score distributions (PNG + SVG)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plot", help="plot the schedule, training logs, score "
                                                "distributions (matplotlib: PNG and SVG)")
    kinds = parser.add_subparsers(dest="plot_kind", metavar="KIND", required=True)

    schedule = kinds.add_parser("schedule", help="alpha1 and alpha2 over training steps")
    schedule.add_argument("--T", type=int, default=10_000, help="decay steps (10000)")
    schedule.add_argument("--alpha-min", type=float, default=0.1, help="floor of alpha1 (0.1)")
    schedule.add_argument("--kind", choices=("linear", "cosine"), default="linear")
    schedule.add_argument("--config", help="take the schedule from a RewardConfig file")
    schedule.add_argument("--steps", type=int, help="x-axis length (default: 1.5 T)")
    schedule.add_argument("--out", required=True, help="output folder")

    training = kinds.add_parser("training", help="per-level reward curves from a training log")
    training.add_argument("--log", required=True,
                          help="trainer_state.json (log_history) or a .jsonl of logged dicts")
    training.add_argument("--prefix", default="himed", help="metric prefix (himed)")
    training.add_argument("--out", required=True, help="output folder")

    distributions = kinds.add_parser("distributions", help="per-sample score histograms")
    distributions.add_argument("--scores", nargs="+", required=True,
                               help="scores/<system>.jsonl files from `eval --output-dir`")
    distributions.add_argument("--metric", action="append",
                               help="metric to plot (repeat; default: every common one)")
    distributions.add_argument("--out", required=True, help="output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from himed_rewards import CosineSchedule, LinearSchedule, RewardConfig
    from himed_rewards.plots import plot_distributions, plot_schedule, plot_training

    try:
        if args.plot_kind == "schedule":
            if args.config:
                schedule = RewardConfig.from_file(args.config).schedule
            else:
                cls = LinearSchedule if args.kind == "linear" else CosineSchedule
                schedule = cls(T=args.T, alpha_min=args.alpha_min)
            steps = args.steps or int(1.5 * getattr(schedule, "T", args.T))
            paths = plot_schedule(schedule, steps, args.out)
        elif args.plot_kind == "training":
            paths = plot_training(args.log, args.out, prefix=args.prefix)
        else:
            paths = plot_distributions(args.scores, args.out, metrics=args.metric)
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        print(f"himed-rewards plot: error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0
