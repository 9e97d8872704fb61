"""METEOR speed against nltk 3.10 on the 590 real IU X-ray pairs, warm and cold.

    eval "$(.ci/setup_wordnet.sh)"   # nltk's WordNet, for the nltk column
    python benchmarks/bench_meteor.py [--repeat 20]

Warm: best of ``--repeat`` runs over all pairs, per pair (nltk: best of ``--repeat // 4``,
at least 3, its WordNet loaded and the synsets it meets parsed by an earlier pass).
Token-list inputs are ``str.split()`` as nltk needs; ``str`` inputs go through the default
tokenizer. ``meteor_from_layout`` is what the reward calls, on a layout built beforehand
(its references deduplicated); "GRPO" repeats each of 36 references for 16 completions.
Cold nltk: fresh interpreters, each importing nltk and scoring the 590 pairs once (WordNet
read from disk on the first call), best of 3; "first call" is one such process's first pair.
Cold ours: a fresh interpreter importing the metric and scoring one pair, with an empty
numba cache (compiles) and with the cache it left behind (loads).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from himed_rewards.metrics._layout import build_layout  # noqa: E402
from himed_rewards.metrics.meteor import meteor, meteor_batch, meteor_from_layout  # noqa: E402
from himed_rewards.text.tokenizers import get_tokenizer  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "iu_xray"

COLD = """
import time
t0 = time.perf_counter()
from himed_rewards.metrics.meteor import meteor
t1 = time.perf_counter()
meteor("heart size is normal and the lungs are clear", "the lungs are clear")
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


COLD_NLTK = """
import csv, sys, time
t0 = time.perf_counter()
import nltk
nltk.data.path.append(sys.argv[1])
from nltk.translate.meteor_score import meteor_score
def read(name):
    with open(name, newline="", encoding="utf-8") as handle:
        return {row["study_id"]: row["report"] for row in csv.DictReader(handle)}
preds, gts = read(sys.argv[2] + "/preds.csv"), read(sys.argv[2] + "/gts.csv")
pairs = [(preds[i].split(), [gts[i].split()]) for i in gts if i in preds]
t1 = time.perf_counter()
meteor_score(pairs[0][1], pairs[0][0])
t2 = time.perf_counter()
for h, r in pairs[1:]:
    meteor_score(r, h)
t3 = time.perf_counter()
print(t2 - t1, t3 - t1, len(pairs))
"""


def cold_nltk(folder: str) -> tuple[float, float]:
    """nltk in fresh interpreters: (first pair's seconds, seconds per pair over all), best of 3."""
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", COLD_NLTK, folder, str(FIXTURES)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        first, total, n = out.stdout.split()
        runs.append((float(first), float(total) / int(n)))
    return min(r[0] for r in runs), min(r[1] for r in runs)


def load_pairs() -> tuple[list[str], list[str]]:
    def read(name: str) -> dict[str, str]:
        with (FIXTURES / name).open(newline="", encoding="utf-8") as handle:
            return {row["study_id"]: row["report"] for row in csv.DictReader(handle)}

    preds, gts = read("preds.csv"), read("gts.csv")
    ids = [i for i in gts if i in preds]
    return [preds[i] for i in ids], [gts[i] for i in ids]


def best_of(repeat: int, run) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def nltk_folder() -> str:
    return os.environ.get("NLTK_DATA", "/tmp/himed_nltk_data")


def nltk_meteor():
    """nltk's meteor_score, or None when its WordNet is not installed."""
    import nltk

    folder = nltk_folder()
    if folder not in nltk.data.path:
        nltk.data.path.append(folder)
    from nltk.corpus import wordnet
    from nltk.translate.meteor_score import meteor_score

    try:
        wordnet.ensure_loaded()
    except LookupError:
        return None
    return meteor_score


def cold(cache_dir: str) -> tuple[float, float]:
    # compiled at the first call (bench_cold.py measures the interpreter tier, which spares an
    # empty cache's first call the compile but writes nothing to the cache)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT),
               HIMED_REWARDS_INTERPRET="0")
    out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    import_s, first_s = map(float, out.stdout.split())
    return import_s, first_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    hyps, refs = load_pairs()
    n = len(hyps)
    hyp_tokens = [h.split() for h in hyps]
    ref_tokens = [[r.split()] for r in refs]
    meteor_batch(hyp_tokens, ref_tokens)  # compile or load, fill the per-id tables
    meteor_batch(hyps, refs)
    tokenizer = get_tokenizer("default")
    layout = build_layout(hyps, [(r,) for r in refs], tokenizer)
    group_hyps = [hyps[i] for g in range(36) for i in range(16 * g, 16 * g + 16)]
    group_refs = [(refs[16 * g],) for g in range(36) for _ in range(16)]
    grpo = build_layout(group_hyps, group_refs, tokenizer)
    meteor_from_layout(layout)

    rows: list[tuple[str, float, int]] = []
    reference = nltk_meteor()
    cold_first = cold_per_pair = None
    if reference is not None:
        pairs = list(zip(hyp_tokens, ref_tokens, strict=True))
        # nltk's first pass also reads and parses the WordNet synsets it meets
        first_pass = best_of(1, lambda: [reference(r, h) for h, r in pairs])
        nltk_s = best_of(max(3, args.repeat // 4), lambda: [reference(r, h) for h, r in pairs])
        theirs = [reference(r, h) for h, r in pairs]
        ours = meteor_batch(hyp_tokens, ref_tokens)
        delta = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
        identical = sum(a == b for a, b in zip(ours, theirs, strict=True))
        rows.append(("nltk meteor_score (token lists)", nltk_s, n))
        rows.append(("nltk, first pass in this process", first_pass, n))
        cold_first, cold_per_pair = cold_nltk(nltk_folder())
    rows += [
        ("ours meteor_batch (token lists)", best_of(args.repeat,
                                                    lambda: meteor_batch(hyp_tokens, ref_tokens)), n),
        ("ours meteor_batch (str)", best_of(args.repeat, lambda: meteor_batch(hyps, refs)), n),
        ("ours meteor_from_layout", best_of(args.repeat, lambda: meteor_from_layout(layout)), n),
        ("ours meteor_from_layout, GRPO 36 x 16", best_of(args.repeat,
                                                         lambda: meteor_from_layout(grpo)), 576),
        ("ours meteor per call (token lists)", best_of(args.repeat, lambda: [
            meteor(h, r) for h, r in zip(hyp_tokens, ref_tokens, strict=True)]), n),
        ("ours meteor per call (str)", best_of(args.repeat, lambda: [
            meteor(h, r) for h, r in zip(hyps, refs, strict=True)]), n),
    ]  # fmt: skip

    print(f"METEOR on {n} IU X-ray pairs (best of {args.repeat}; per pair)")
    print(f"{'implementation':40s} {'us/pair':>10s} {'vs warm nltk':>13s} {'vs cold nltk':>13s}")
    base = rows[0][1] / n if reference is not None else None
    for name, seconds, count in rows:
        per_pair = seconds / count
        warm_x = f"{base / per_pair:12.0f}x" if base else "          n/a"
        cold_x = f"{cold_per_pair / per_pair:12.0f}x" if cold_per_pair else "          n/a"
        print(f"{name:40s} {per_pair * 1e6:10.2f} {warm_x:>13s} {cold_x:>13s}")
    if reference is not None:
        print(f"cold nltk, fresh interpreter (WordNet read on the first call): first pair "
              f"{cold_first * 1e3:.0f} ms; all {n} pairs {cold_per_pair * 1e6:.0f} us/pair")
        print(f"exactness vs nltk: max |ours - nltk| = {delta:.3g}, bit-identical {identical}/{n}")
    else:
        print("nltk columns skipped: WordNet missing (eval \"$(.ci/setup_wordnet.sh)\")")

    with tempfile.TemporaryDirectory() as cache:
        empty = cold(cache)
        warm = cold(cache)
    print("cold start, fresh interpreter (import himed_rewards.metrics.meteor + first call):")
    print(f"  empty numba cache, compiling: import {empty[0]:.2f} s + first call {empty[1]:.2f} s")
    print(f"  warm numba cache:  import {warm[0]:.2f} s + first call {warm[1]:.2f} s")


if __name__ == "__main__":
    main()
