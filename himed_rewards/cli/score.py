"""``himed-rewards score``: every reward component for id-aligned predictions and references."""

from __future__ import annotations

import argparse
import statistics
import sys

from himed_rewards.cli._table import format_table

_SUMMARY = ("token", "rouge_l", "meteor", "keyword_bonus", "concept", "format", "low_level",
            "semantic", "total")
_CHUNK = 512
_INPUTS = ".jsonl, .csv or .tsv (id + text), plain text (one report per line) or - (stdin)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("score", help="score predictions against references")
    parser.add_argument("--predictions", required=True, help=_INPUTS)
    parser.add_argument("--references", required=True, help=_INPUTS)
    parser.add_argument("--config", help="a RewardConfig YAML/JSON file")
    parser.add_argument("--output", help="write every component per id (.jsonl or .csv)")
    parser.add_argument("--step", type=int,
                        help="schedule step (default: the schedule's final step, T)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes that score (default 1; see ParallelScorer)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import contextlib

    from himed_rewards import ParallelScorer, RewardConfig, score_batch
    from himed_rewards.cli._progress import bar, progress_enabled
    from himed_rewards.cli.io import STDIN, read_texts, write_records
    from himed_rewards.evaluation.steps import resolve_step

    if args.workers < 1:
        print(f"himed-rewards score: error: --workers must be >= 1, got {args.workers}",
              file=sys.stderr)
        return 2
    if args.predictions == STDIN and args.references == STDIN:
        print("himed-rewards score: error: only one of --predictions and --references can be "
              "- (stdin)", file=sys.stderr)
        return 2
    config = RewardConfig.from_file(args.config) if args.config else RewardConfig()
    step = resolve_step(args.step, config)
    predictions = read_texts(args.predictions)
    references = read_texts(args.references)
    missing = sorted(set(predictions) ^ set(references))
    if missing:
        print(f"himed-rewards score: error: ids present in only one file: "
              f"{', '.join(missing[:5])}"
              f"{' ...' if len(missing) > 5 else ''}", file=sys.stderr)
        return 2
    ids = list(predictions)
    results = []
    size = _CHUNK * args.workers  # each process scores about _CHUNK pairs per round
    with contextlib.ExitStack() as stack:
        scorer = (stack.enter_context(ParallelScorer(args.workers, config))
                  if args.workers > 1 and len(ids) > _CHUNK else None)
        progress = stack.enter_context(bar(len(ids), "scoring", progress_enabled(args.quiet)))
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            hyps, refs = [predictions[i] for i in chunk], [references[i] for i in chunk]
            results += (scorer.score_batch(hyps, refs, step=step) if scorer is not None
                        else score_batch(hyps, refs, step=step, config=config))
            progress.update(len(chunk))
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
    print(f"{len(results)} pairs, step {step}, config {config.signature()[:80]}...")
    return 0
