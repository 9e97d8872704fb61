"""``himed-rewards demo``: score the bundled synthetic pairs with every reward level."""

from __future__ import annotations

import argparse
import sys
import time

from himed_rewards.cli._table import format_table

COLUMNS = ("token", "rouge_l", "meteor", "keyword_bonus", "concept", "format", "low_level",
           "semantic", "total")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="score the bundled example pairs (every level)")
    parser.add_argument("--step", type=int,
                        help="schedule step (default: the schedule's final step, T)")
    parser.add_argument("--config", help="a RewardConfig YAML/JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from himed_rewards import RewardConfig, score_batch, warmup
    from himed_rewards.cli._progress import progress_enabled
    from himed_rewards.evaluation.steps import resolve_step
    from himed_rewards.examples import example_pairs

    config = RewardConfig.from_file(args.config) if args.config else RewardConfig()
    step = resolve_step(args.step, config)
    if progress_enabled(args.quiet):  # the first run compiles the kernels (cached afterwards)
        print("compiling the scoring kernels (first run only)...", end="\r", file=sys.stderr,
              flush=True)
    compile_s = warmup()
    if progress_enabled(args.quiet):
        print(" " * 50, end="\r", file=sys.stderr, flush=True)
    pairs = example_pairs()
    start = time.perf_counter()
    results = score_batch([p.completion for p in pairs], [p.reference for p in pairs],
                          step=step, config=config)
    elapsed = time.perf_counter() - start
    rows = [[p.id, *(getattr(r, c) for c in COLUMNS)] for p, r in zip(pairs, results, strict=True)]
    print(format_table(["pair", *COLUMNS], rows))
    print()
    for p, r in zip(pairs, results, strict=True):
        keywords = ", ".join(r.matched_keywords) or "-"
        print(f"{p.id:<17} {p.case}; keywords: {keywords}")
    semantic = "off" if config.semantic is None else config.semantic.signature()
    print(f"\nstep {step}: alpha1={results[0].alpha1:.3f} alpha2={results[0].alpha2:.3f}; "
          f"semantic scorer: {semantic}")
    print(f"scored {len(pairs)} pairs in {elapsed * 1e3:.1f} ms (kernel warm-up {compile_s:.2f} s)")
    return 0
