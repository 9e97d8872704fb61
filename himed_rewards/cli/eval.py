"""``himed-rewards eval``: the paper's Table 3 for one or more systems, with 95% CIs and p-values.

Each ``--predictions`` file is one system (``--system`` names them in the same order; the
first is the baseline of the significance test). Writes Markdown to stdout and, with
``--output-dir``, ``table.md``, ``table.csv``, ``results.json`` (with the reproducibility
signature) and ``scores/<system>.jsonl`` (per-sample scores, for ``himed-rewards plot``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def register(subparsers: argparse._SubParsersAction) -> None:
    from himed_rewards.evaluation.bertscore import BERTSCORE_MODEL
    from himed_rewards.evaluation.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
    from himed_rewards.evaluation.conventions import CONVENTIONS, get_convention
    from himed_rewards.evaluation.ratescore import RATESCORE_MODELS
    from himed_rewards.evaluation.significance import TESTS

    parser = subparsers.add_parser(
        "eval", help="corpus metrics, bootstrap CIs and significance (the paper's Table 3)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictions", action="append", required=True,
                        help=".jsonl, .csv or .tsv (id + text), plain text (one report per "
                             "line) or - (stdin); repeat for several systems")
    parser.add_argument("--references", required=True,
                        help="the same formats; every predictions file must cover its ids")
    parser.add_argument("--system", action="append",
                        help="name of each system, in --predictions order (default: file stems)")
    parser.add_argument("--convention", choices=CONVENTIONS, default="default",
                        help="; ".join(f"{c}: {get_convention(c).summary}"
                                       for c in CONVENTIONS)
                        + " (coco and r2gen run the METEOR 1.5 jar: Java)")
    parser.add_argument("--lowercase", action="store_true",
                        help="lowercase predictions and references first")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap resamples / randomization trials ({DEFAULT_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="resampling seed")
    parser.add_argument("--test", choices=TESTS, default="paired-bs",
                        help="paired significance test vs the first system")
    parser.add_argument("--config", help="a RewardConfig YAML/JSON file for the HiMed reward")
    parser.add_argument("--step", type=int,
                        help="schedule step of the reward (default: the schedule's final "
                             "step, T, where alpha1 has reached alpha_min)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N reference ids")
    parser.add_argument("--ratescore", action="store_true",
                        help="add RaTEScore (the `ratescore` package and its two models, "
                             "available locally)")
    parser.add_argument("--ratescore-ner-model", default=RATESCORE_MODELS[0])
    parser.add_argument("--ratescore-eval-model", default=RATESCORE_MODELS[1])
    parser.add_argument("--ratescore-gpu", action="store_true", help="run RaTEScore on CUDA")
    parser.add_argument("--bertscore", action="store_true",
                        help="add BERTScore F1 (the `bert-score` package and its model, "
                             "available locally)")
    parser.add_argument("--bertscore-model", default=BERTSCORE_MODEL,
                        help=f"model name in the Hugging Face cache or a directory "
                             f"(default {BERTSCORE_MODEL}, as CXR-Report-Metric)")
    parser.add_argument("--bertscore-layers", type=int,
                        help="hidden layer to use (needed for models bert-score does not know)")
    parser.add_argument("--bertscore-gpu", action="store_true", help="run BERTScore on CUDA")
    parser.add_argument("--chexbert-checkpoint",
                        help="add CheXbert F1: path of the CheXbert checkpoint (chexbert.pth)")
    parser.add_argument("--chexbert-bert", default="bert-base-uncased",
                        help="name or directory of CheXbert's BERT tokenizer and config")
    parser.add_argument("--chexbert-gpu", action="store_true", help="run CheXbert on CUDA")
    parser.add_argument("--radgraph", action="store_true",
                        help="add RadGraph F1, simple/partial/complete (the `radgraph` package "
                             "and its model, available locally)")
    parser.add_argument("--radgraph-model", default="radgraph",
                        help="radgraph (default, as the papers), radgraph-xl or "
                             "modern-radgraph-xl")
    parser.add_argument("--radgraph-dir",
                        help="local model directory (config.json, vocabulary/, weights.th); "
                             "default: the radgraph package's cache")
    parser.add_argument("--radgraph-gpu", action="store_true", help="run RadGraph on CUDA")
    parser.add_argument("--green-model", metavar="DIR",
                        help="add GREEN: directory (or cached name) of a GREEN model, e.g. "
                             "StanfordAIMI/GREEN-RadLlama2-7b downloaded beforehand")
    parser.add_argument("--green-gpu", action="store_true", help="run GREEN on CUDA (float16)")
    parser.add_argument("--green-batch-size", type=int, default=8,
                        help="pairs per GREEN generate call (8, as green-score)")
    parser.add_argument("--green-max-new-tokens", type=int,
                        help="cap on each GREEN answer's tokens (default: green-score's "
                             "2048 tokens for prompt and answer together)")
    parser.add_argument("--output-dir", help="write table.md, table.csv, results.json, scores/")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _error(message: str) -> int:
    print(f"himed-rewards eval: error: {message}", file=sys.stderr)
    return 2


class _BackendUnavailable(Exception):
    """A model-based backend could not be loaded; its message is the one-line error."""


def _load_backend(module: str, loader: str, errors: tuple[str, ...], *args, **kwargs):
    # Imported here: each backend pulls in torch/transformers, which plain runs never need.
    import builtins
    import importlib

    backend = importlib.import_module(f"himed_rewards.evaluation.{module}")
    expected = tuple(getattr(backend, e, None) or getattr(builtins, e) for e in errors)
    try:
        return getattr(backend, loader)(*args, **kwargs)
    except expected as error:
        raise _BackendUnavailable(str(error)) from error


def _names(args: argparse.Namespace) -> list[str] | str:
    names = args.system or [Path(p).stem if p != "-" else "stdin" for p in args.predictions]
    if len(names) != len(args.predictions):
        return (f"--system was given {len(names)} times for {len(args.predictions)} "
                f"--predictions files; give one name per file")
    if len(set(names)) != len(names):
        return f"system names must be distinct, got {names}"
    return names


def run(args: argparse.Namespace) -> int:
    from himed_rewards import RewardConfig
    from himed_rewards.cli._progress import StageProgress, progress_enabled
    from himed_rewards.cli.io import STDIN, read_texts, write_records
    from himed_rewards.evaluation import evaluate, to_csv, to_markdown

    names = _names(args)
    if isinstance(names, str):
        return _error(names)
    if args.resamples < 1:
        return _error(f"--resamples must be >= 1, got {args.resamples}")
    if [*args.predictions, args.references].count(STDIN) > 1:
        return _error("only one input can be - (stdin)")
    references = read_texts(args.references)
    ids = list(references)
    if args.limit is not None:
        if args.limit < 1:
            return _error(f"--limit must be >= 1, got {args.limit}")
        ids = ids[: args.limit]
    systems = {}
    for name, path in zip(names, args.predictions, strict=True):
        predictions = read_texts(path)
        missing = [i for i in ids if i not in predictions]
        if missing:
            hint = ("; plain-text files are matched by line number, so give both files as "
                    "plain text or both with an id column") if len(missing) == len(ids) else ""
            source = "stdin" if path == STDIN else path
            return _error(f"{source} has no prediction for {len(missing)} reference ids, e.g. "
                          f"{', '.join(missing[:3])}{hint}")
        systems[name] = [predictions[i] for i in ids]
    config = RewardConfig.from_file(args.config) if args.config else RewardConfig()
    # Each optional model-based backend: loaded only when asked for; a missing package or
    # model is the backend's own one-line error (exit 2), never a traceback.
    try:
        ratescore = info = bertscore = bert_info = chexbert = chexbert_info = None
        radgraph = radgraph_info = green = green_info = None
        if args.ratescore:
            ratescore = _load_backend("ratescore", "load_ratescore", ("RatescoreUnavailable",),
                                      args.ratescore_ner_model, args.ratescore_eval_model,
                                      use_gpu=args.ratescore_gpu)
            info = {"ner_model": args.ratescore_ner_model,
                    "eval_model": args.ratescore_eval_model}
        if args.bertscore:
            bertscore = _load_backend("bertscore", "load_bertscore", ("BertScoreUnavailable",),
                                      args.bertscore_model, args.bertscore_layers,
                                      use_gpu=args.bertscore_gpu)
            bert_info = {"model": args.bertscore_model, "num_layers": args.bertscore_layers,
                         "score": "F1"}
        if args.chexbert_checkpoint:
            chexbert = _load_backend("chexbert", "load_chexbert", ("ChexbertUnavailable",),
                                     args.chexbert_checkpoint, args.chexbert_bert,
                                     use_gpu=args.chexbert_gpu)
            chexbert_info = {"checkpoint": args.chexbert_checkpoint, "bert": args.chexbert_bert,
                             "positive": "label 'positive'", "uncertain": "counted as negative"}
        if args.radgraph:
            radgraph = _load_backend("radgraph", "load_radgraph",
                                     ("RadgraphUnavailable", "ValueError"), args.radgraph_model,
                                     args.radgraph_dir, use_gpu=args.radgraph_gpu)
            radgraph_info = {"model": args.radgraph_model, "model_dir": args.radgraph_dir,
                             "levels": "simple, partial, complete (radgraph 0.1.18 rewards)"}
        if args.green_model:
            green = _load_backend("green", "load_green", ("GreenUnavailable", "ValueError"),
                                  args.green_model, use_gpu=args.green_gpu,
                                  batch_size=args.green_batch_size,
                                  max_new_tokens=args.green_max_new_tokens)
            green_info = {"model": args.green_model, "green_score": "0.0.12",
                          "dtype": "float16" if args.green_gpu else "float32",
                          "max_new_tokens": args.green_max_new_tokens,
                          "unparseable": "None, left out of the mean"}
    except _BackendUnavailable as error:
        return _error(str(error))
    progress = StageProgress(progress_enabled(args.quiet))
    try:
        result = evaluate(systems, [references[i] for i in ids], ids=ids,
                          convention=args.convention, n_resamples=args.resamples,
                          seed=args.seed, test=args.test, reward_config=config, step=args.step,
                          lowercase=args.lowercase, ratescore=ratescore, ratescore_info=info,
                          progress=progress, bertscore=bertscore, bertscore_info=bert_info,
                          chexbert=chexbert, chexbert_info=chexbert_info,
                          radgraph=radgraph, radgraph_info=radgraph_info,
                          green=green, green_info=green_info)
    except RuntimeError as error:  # e.g. the coco METEOR jar without Java
        return _error(str(error))
    finally:
        progress.close()
    for name in result.systems if green is not None else ():
        missing = sum(v is None for v in result.per_sample[name]["green"])
        if missing:  # never silent: say how many samples the GREEN mean leaves out
            print(f"himed-rewards eval: {name}: {missing} of {len(ids)} GREEN answers are "
                  f"unparseable (None in scores/, left out of the mean)", file=sys.stderr)
    markdown = to_markdown(result)
    print(markdown, end="")
    if args.output_dir:
        out = Path(args.output_dir)
        (out / "scores").mkdir(parents=True, exist_ok=True)
        (out / "table.md").write_text(markdown, encoding="utf-8")
        (out / "table.csv").write_text(to_csv(result), encoding="utf-8")
        (out / "results.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n",
                                          encoding="utf-8")
        for name in result.systems:
            columns = result.per_sample[name]
            write_records(out / "scores" / f"{_SAFE_NAME.sub('_', name)}.jsonl",
                          ({"id": i, "system": name, **{k: v[j] for k, v in columns.items()}}
                           for j, i in enumerate(result.ids)))
        print(f"wrote {out}/table.md, table.csv, results.json, scores/", file=sys.stderr)
    return 0
