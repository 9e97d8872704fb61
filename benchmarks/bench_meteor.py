"""METEOR speed against nltk 3.10 on the 590 real IU X-ray pairs, warm and cold.

    eval "$(.ci/setup_wordnet.sh)"   # nltk's WordNet, for the nltk column
    python benchmarks/bench_meteor.py [--repeat 20]

Warm: best of ``--repeat`` runs over all pairs, per pair. Token-list inputs are
``str.split()`` as nltk needs; ``str`` inputs go through the default tokenizer. Cold: a fresh
interpreter importing the metric and scoring one pair, with an empty numba cache (compiles)
and with the cache it left behind (loads).
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

from himed_rewards.metrics.meteor import meteor, meteor_batch  # noqa: E402

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


def nltk_meteor():
    """nltk's meteor_score, or None when its WordNet is not installed."""
    import nltk

    folder = os.environ.get("NLTK_DATA", "/tmp/himed_nltk_data")
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
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
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

    rows: list[tuple[str, float]] = []
    reference = nltk_meteor()
    if reference is not None:
        pairs = list(zip(hyp_tokens, ref_tokens, strict=True))
        # nltk's first pass also reads and parses the WordNet synsets it meets
        first_pass = best_of(1, lambda: [reference(r, h) for h, r in pairs])
        nltk_s = best_of(max(1, args.repeat // 10), lambda: [reference(r, h) for h, r in pairs])
        theirs = [reference(r, h) for h, r in pairs]
        ours = meteor_batch(hyp_tokens, ref_tokens)
        delta = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
        identical = sum(a == b for a, b in zip(ours, theirs, strict=True))
        rows.append(("nltk meteor_score (token lists)", nltk_s))
        rows.append(("nltk, first pass (synsets not yet parsed)", first_pass))
    rows += [
        ("ours meteor_batch (token lists)", best_of(args.repeat,
                                                    lambda: meteor_batch(hyp_tokens, ref_tokens))),
        ("ours meteor_batch (str)", best_of(args.repeat, lambda: meteor_batch(hyps, refs))),
        ("ours meteor per call (token lists)", best_of(args.repeat, lambda: [
            meteor(h, r) for h, r in zip(hyp_tokens, ref_tokens, strict=True)])),
        ("ours meteor per call (str)", best_of(args.repeat, lambda: [
            meteor(h, r) for h, r in zip(hyps, refs, strict=True)])),
    ]  # fmt: skip

    print(f"METEOR on {n} IU X-ray pairs (best of {args.repeat}; per pair)")
    print(f"{'implementation':40s} {'us/pair':>10s} {'speed-up vs warm nltk':>22s}")
    base = rows[0][1] if reference is not None else None
    for name, seconds in rows:
        per_pair = seconds / n * 1e6
        speedup = f"{base / seconds:9.0f}x" if base else "      n/a"
        print(f"{name:40s} {per_pair:10.2f} {speedup:>22s}")
    if reference is not None:
        print(f"exactness vs nltk: max |ours - nltk| = {delta:.3g}, bit-identical {identical}/{n}")
    else:
        print("nltk column skipped: WordNet missing (eval \"$(.ci/setup_wordnet.sh)\")")

    with tempfile.TemporaryDirectory() as cache:
        empty = cold(cache)
        warm = cold(cache)
    print("cold start, fresh interpreter (import himed_rewards.metrics.meteor + first call):")
    print(f"  empty numba cache: import {empty[0]:.2f} s + first call {empty[1]:.2f} s")
    print(f"  warm numba cache:  import {warm[0]:.2f} s + first call {warm[1]:.2f} s")


if __name__ == "__main__":
    main()
