"""One reward call on one thread against the same call on several (``set_num_threads``).

Fresh GRPO batches of several sizes (groups of 16 never-seen completions), wall-clock time
(threads only pay off in wall time), median over steps; each step scores one fresh batch on
one thread and another on ``--threads``, in alternating order, so that load from other jobs
hits both alike. The low-level reward (semantic off: the batch split by metric on two
threads, cut into one chunk per thread on more) and the default reward (offline clinical
judge: the whole kernel on the pool, behind the judge), and the default reward with the
judge's share in a helper process
(``rewards.judge_process``: the caller computes the low-level reward on one thread fewer).
The sizes from which each pays are where ``MIN_PAIRS_PER_THREAD``, ``MIN_PAIRS_BEHIND_JUDGE``
and ``judge_process.MIN_PAIRS`` come from; for the measurement, all are set to 16 here.

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
from himed_rewards.rewards import judge_process, low_level, threads

CONFIGS = {"low-level reward": RewardConfig(semantic=None), "default reward": RewardConfig()}
GROUPS = (1, 2, 4, 8, 12, 16, 32)  # of 16 completions each
WARM_BATCHES = 100  # (the judge's records' steady state: bench_reward.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed batches per size")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warmup()
    # every split the sizes allow (the library's thresholds come from this table)
    threads.MIN_PAIRS_PER_THREAD = 16
    low_level.MIN_PAIRS_BEHIND_JUDGE = 16
    judge_process.MIN_PAIRS = 16
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    for name, config in CONFIGS.items():
        fresh = FreshText(seed=41 if config.semantic is None else 42)
        # (ways of scoring: threads, and for the judge, threads with its helper process)
        ways = {"1 thread": (1, False), f"{args.threads} threads": (args.threads, False)}
        if config.semantic is not None:
            ways[f"{args.threads} threads + judge helper"] = (args.threads, True)
            set_num_threads(args.threads)
            judge_process.start(wait_s=60.0)
        for k in range(WARM_BATCHES):  # (the helper's sentence records warm up too)
            set_num_threads(args.threads if k % 2 else 1)
            score_batch(*fresh.grpo_batch(), config=config)
        gc.collect()
        gc.freeze()
        print(f"{name}, wall microseconds per batch (median of {args.steps})\n")
        print("| pairs | " + " | ".join(ways) + " | " +
              " | ".join(f"speed-up, {w}" for w in list(ways)[1:]) + " |")
        print("|---:|" + "---:|" * (2 * len(ways) - 1))
        for groups in GROUPS:
            times: dict[str, list[float]] = {way: [] for way in ways}
            for step in range(args.steps):
                order = list(ways) if step % 2 else list(reversed(ways))
                for way in order:
                    n_threads, helper = ways[way]
                    os.environ[judge_process.ENVIRONMENT_VARIABLE] = "1" if helper else "0"
                    c, r = fresh.grpo_batch(n_refs=groups)
                    set_num_threads(n_threads)
                    times[way].append(timed(partial(score_batch, config=config), c, r,
                                            clock=time.perf_counter))
            medians = [statistics.median(times[way]) for way in ways]
            print(f"| {groups * 16} | " + " | ".join(f"{m * 1e6:.0f}" for m in medians) + " | "
                  + " | ".join(f"{medians[0] / m:.2f}x" for m in medians[1:]) + " |")
        print()
        os.environ.pop(judge_process.ENVIRONMENT_VARIABLE, None)
    set_num_threads(None)


if __name__ == "__main__":
    main()
