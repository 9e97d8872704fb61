"""``himed-rewards score``: every reward component for id-aligned predictions and references."""

from __future__ import annotations

import argparse
import statistics
import sys

from himed_rewards.cli._table import format_table

_SUMMARY = ("token", "rouge_l", "meteor", "keyword_bonus", "concept", "format", "low_level",
            "semantic", "total")
_CHUNK = 512


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("score", help="score predictions against references")
    parser.add_argument("--predictions", required=True, help=".jsonl or .csv (id + text)")
    parser.add_argument("--references", required=True, help=".jsonl or .csv (id + text)")
    parser.add_argument("--config", help="a RewardConfig YAML/JSON file")
    parser.add_argument("--output", help="write every component per id (.jsonl or .csv)")
    parser.add_argument("--step", type=int, default=0, help="training step for the schedule")
    parser.set_defaults(func=run)


def _progress(done: int, total: int) -> None:
    if total >= 2 * _CHUNK and sys.stderr.isatty():
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from himed_rewards import RewardConfig, score_batch
    from himed_rewards.cli.io import read_texts, write_records

    config = RewardConfig.from_file(args.config) if args.config else RewardConfig()
    predictions = read_texts(args.predictions)
    references = read_texts(args.references)
    missing = sorted(set(predictions) ^ set(references))
    if missing:
        print(f"error: ids present in only one file: {', '.join(missing[:5])}"
              f"{' ...' if len(missing) > 5 else ''}", file=sys.stderr)
        return 2
    ids = list(predictions)
    results = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        results += score_batch([predictions[i] for i in chunk], [references[i] for i in chunk],
                               step=args.step, config=config)
        _progress(len(results), len(ids))
    if args.output:
        write_records(args.output, ({"id": i, **r.to_dict()} for i, r in zip(ids, results,
                                                                                strict=True)))
    rows = []
    for name in _SUMMARY:
        values = [getattr(r, name) for r in results if getattr(r, name) is not None]
        rows.append([name, statistics.fmean(values) if values else None,
                     min(values) if values else None, max(values) if values else None,
                     len(results) - len(values)])
    print(format_table(["component", "mean", "min", "max", "missing"], rows))
    print(f"{len(results)} pairs, step {args.step}, config {config.signature()[:80]}...")
    return 0
