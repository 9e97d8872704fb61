"""One reward call on one thread against the same call on several (``set_num_threads``).

Fresh GRPO batches of several sizes (groups of 16 never-seen completions), wall-clock time
(threads only pay off in wall time), median over steps; each step scores one fresh batch on
one thread and another on ``--threads``, in alternating order, so that load from other jobs
hits both alike. The low-level reward (semantic off: the batch's kernel cut into one chunk
per thread) and the default reward (offline clinical judge: the whole kernel on the pool,
behind the judge). The sizes from which the threads pay are where ``MIN_PAIRS_PER_THREAD``
and ``MIN_PAIRS_BEHIND_JUDGE`` come from; for the measurement, both are set to 16 here.

    python benchmarks/bench_threads.py [--steps 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from functools import partial

from _common import FreshText, timed

from himed_rewards import RewardConfig, score_batch, set_num_threads, warmup
from himed_rewards.rewards import low_level, threads

CONFIGS = {"low-level reward": RewardConfig(semantic=None), "default reward": RewardConfig()}
GROUPS = (1, 2, 4, 8, 12, 16, 32)  # of 16 completions each
WARM_BATCHES = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed batches per size")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warmup()
    # every split the sizes allow (the library's thresholds come from this table)
    threads.MIN_PAIRS_PER_THREAD = 16
    low_level.MIN_PAIRS_BEHIND_JUDGE = 16
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    for name, config in CONFIGS.items():
        fresh = FreshText(seed=41 if config.semantic is None else 42)
        for _ in range(WARM_BATCHES):
            score_batch(*fresh.grpo_batch(), config=config)
        gc.collect()
        gc.freeze()
        print(f"{name}, wall microseconds per batch (median of {args.steps})\n")
        print(f"| pairs | 1 thread | {args.threads} threads | speed-up |")
        print("|---:|---:|---:|---:|")
        for groups in GROUPS:
            times: dict[int, list[float]] = {1: [], args.threads: []}
            for step in range(args.steps):
                order = (1, args.threads) if step % 2 else (args.threads, 1)
                for n_threads in order:
                    c, r = fresh.grpo_batch(n_refs=groups)
                    set_num_threads(n_threads)
                    times[n_threads].append(timed(partial(score_batch, config=config), c, r,
                                                  clock=time.perf_counter))
            one = statistics.median(times[1])
            many = statistics.median(times[args.threads])
            print(f"| {groups * 16} | {one * 1e6:.0f} | {many * 1e6:.0f} | {one / many:.2f}x |")
        print()
    set_num_threads(None)


if __name__ == "__main__":
    main()
