"""One big batch on several cores: ParallelScorer against score_batch on fresh GRPO batches.

Wall-clock time (a second process only pays off in wall time), median over steps; each step
brings never-seen completions and references (``FreshText``) and scores one batch serially and
another through the scorer, in alternating order, so that load from other jobs hits both
alike. Prints the speed-up for the low-level reward (semantic off) and the default reward
(offline clinical judge), the batch size from which the workers pay (the default of
``min_pairs``), and the serial share of a parallel call (splitting, sending, receiving,
joining: ``CallStats.overhead_s``) with what Amdahl's law makes of it for more cores.

    python benchmarks/bench_parallel.py [--steps 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

from _common import FreshText

from himed_rewards import RewardConfig, score_batch
from himed_rewards.rewards.parallel import ParallelScorer

CONFIGS = {"low-level reward": RewardConfig(semantic=None), "default reward": RewardConfig()}
SIZES = (16, 32, 64, 128, 256, 512, 1024)
GROUP = 16


def wall(func, *args) -> float:
    gc.collect()
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def compare(scorer: ParallelScorer, config: RewardConfig, fresh: FreshText, n: int,
            steps: int) -> tuple[list[float], list[float], list]:
    """Serial and parallel seconds per batch of ``n`` pairs, and the scorer's CallStats."""
    serial, parallel, stats = [], [], []
    for step in range(steps + 2):
        a, b = fresh.grpo_batch(max(n // GROUP, 1), min(n, GROUP)), \
            fresh.grpo_batch(max(n // GROUP, 1), min(n, GROUP))
        runs = [("serial", a), ("parallel", b)] if step % 2 else [("parallel", a), ("serial", b)]
        for side, batch in runs:
            if side == "serial":
                t = wall(lambda c, r: score_batch(c, r, step=step, config=config), *batch)
            else:
                t = wall(lambda c, r: scorer.score_batch(c, r, step=step), *batch)
            if step >= 2:  # two batches bring every process's vocabulary to a steady state
                (serial if side == "serial" else parallel).append(t)
                if side == "parallel":
                    stats.append(scorer.last_stats)
    return serial, parallel, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed batches per measurement")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores, "
          f"{args.workers} processes\n")
    amdahl = {}
    for name, config in CONFIGS.items():
        fresh = FreshText(seed=21)
        with ParallelScorer(args.workers, config, min_pairs=1) as scorer:
            serial, parallel, stats = compare(scorer, config, fresh, 512, args.steps)
            t1, tn = statistics.median(serial), statistics.median(parallel)
            overhead = statistics.median(s.overhead_s for s in stats)
            own = statistics.median(s.own_s for s in stats)
            amdahl[name] = (t1, overhead)
            print(f"{name}, fresh GRPO batches of 512 (32 x 16), median of {args.steps}: "
                  f"1 process {t1 * 1e3:.1f} ms, {args.workers} processes {tn * 1e3:.1f} ms, "
                  f"speed-up {t1 / tn:.2f}x (ratio of sums {sum(serial) / sum(parallel):.2f}x); "
                  f"caller's own chunk {own * 1e3:.1f} ms, overhead {overhead * 1e3:.2f} ms")
            print("\n| pairs | 1 process (ms) | parallel (ms) | speed-up |\n|---:|---:|---:|---:|")
            pays = None
            for n in SIZES:
                s1, sn, _ = compare(scorer, config, fresh, n, max(args.steps // 2, 6))
                m1, mn = statistics.median(s1), statistics.median(sn)
                if m1 > mn and pays is None:
                    pays = n
                elif m1 <= mn:
                    pays = None  # pays only if it keeps paying for every larger size
                print(f"| {n} | {m1 * 1e3:.2f} | {mn * 1e3:.2f} | {m1 / mn:.2f}x |")
            print(f"\n{name}: the workers pay from {pays} pairs\n")
    print("Amdahl (serial share s = overhead / one-process time; overhead grows with the "
          "share of the batch shipped to workers, (N-1)/N):\n")
    print("| reward | s at N=2 | N=2 | N=4 | N=8 | N=16 | limit |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, (t1, overhead) in amdahl.items():
        cells = []
        for n in (2, 4, 8, 16):
            o = overhead * 2 * (n - 1) / n
            cells.append(f"{t1 / (o + t1 / n):.1f}x")
        print(f"| {name} | {overhead / t1:.3f} | {' | '.join(cells)} | "
              f"{t1 / (2 * overhead):.0f}x |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
