"""Resident memory while a long run brings never-seen words without end.

Scores GRPO-sized batches (32 completions of 40 unique words each) until ``--words`` distinct
words have gone through the low-level reward, printing the resident set size every 100,000
words, the vocabulary's size and how many times it was recycled.

    python benchmarks/bench_memory.py [--words 1000000] [--max-tokens N]
"""

from __future__ import annotations

import argparse
import random
import time

from _common import ROOT  # noqa: F401  (puts the repository on sys.path)

from himed_rewards import RewardConfig, score_batch
from himed_rewards.text.vocabulary import VOCAB


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1_000_000)
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="vocabulary cap (default: the library's MAX_TOKENS)")
    args = parser.parse_args()
    if args.max_tokens is not None:
        VOCAB.max_tokens = args.max_tokens
    rng = random.Random(0)
    off = RewardConfig(semantic=None)
    reference = "The lungs are clear. Mild cardiomegaly. No pleural effusion."
    score_batch(["<think>x</think><finding>lungs clear</finding><impression>-</impression>"],
                [reference], config=off)
    start_rss, start = rss_mb(), time.perf_counter()
    print(f"vocabulary cap {VOCAB.max_tokens:,} tokens; RSS after warm-up {start_rss:.0f} MB\n")
    print("| unique words | RSS MB | added MB | vocabulary tokens | recycles |")
    print("|---:|---:|---:|---:|---:|")
    words, report_every = 0, 100_000
    while words < args.words:
        completions = []
        for _ in range(32):
            batch = [f"w{words + k:x}q{rng.randrange(10**6)}" for k in range(40)]
            words += 40
            completions.append("<think>x</think><finding>" + " ".join(batch)
                               + "</finding><impression>-</impression>")
        score_batch(completions, [reference] * 32, config=off)
        if words % report_every < 32 * 40:
            now = rss_mb()
            print(f"| {words:,} | {now:.0f} | {now - start_rss:.0f} | {len(VOCAB):,} "
                  f"| {VOCAB.generation} |", flush=True)
    print(f"\n{args.words:,} words in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
