"""One big batch on several cores: ParallelScorer against score_batch on fresh GRPO batches.

Wall-clock time (a second process only pays off in wall time), median over steps; each step
brings never-seen completions and references (``FreshText``) and scores one batch serially and
another through the scorer, in alternating order, so that load from other jobs hits both
alike. Prints the speed-up for the low-level reward (semantic off) and the default reward
(offline clinical judge), the batch size from which the workers pay (the default of
``min_pairs``), and the serial share of a parallel call (splitting, sending, receiving,
joining: ``CallStats.overhead_cpu_s``) with what Amdahl's law makes of it for more cores.

Every process scores on one thread (``set_num_threads(1)``; the workers always do): this is
the process-level split alone. ``bench_threads.py`` measures the threads of one call.

A shared machine runs other jobs on the "free" core, so besides the wall clock every row gives
the time on free cores from CPU times (``CallStats.free_cores_s``: the caller's serial work
plus the slowest chunk, each process's own CPU time), which other jobs do not inflate.

    python benchmarks/bench_parallel.py [--steps 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from functools import partial

from _common import FreshText

from himed_rewards import RewardConfig, score_batch, set_num_threads
from himed_rewards.rewards.parallel import ParallelScorer

CONFIGS = {"low-level reward": RewardConfig(semantic=None), "default reward": RewardConfig()}
SIZES = (16, 32, 64, 128, 256, 512, 1024)
GROUP = 16


def timed(func, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) of ``func(*args)``."""
    gc.collect()
    start, cpu = time.perf_counter(), time.thread_time()
    func(*args)
    return time.perf_counter() - start, time.thread_time() - cpu


class Runs:
    """Serial and parallel timings of one measurement."""

    def __init__(self) -> None:
        self.serial_wall, self.serial_cpu, self.parallel_wall, self.stats = [], [], [], []

    def row(self) -> dict[str, float]:
        m = statistics.median
        s = {"serial_wall": m(self.serial_wall), "serial_cpu": m(self.serial_cpu),
             "parallel_wall": m(self.parallel_wall),
             "free": m(x.free_cores_s for x in self.stats),
             "overhead": m(x.overhead_cpu_s for x in self.stats),
             "own": m(x.own_cpu_s for x in self.stats),
             "worker": m(max(x.worker_cpu_s) for x in self.stats)}
        s["wall_speedup"] = s["serial_wall"] / s["parallel_wall"]
        s["free_speedup"] = s["serial_cpu"] / s["free"]
        return s


def compare(scorer: ParallelScorer, config: RewardConfig, fresh: FreshText, n: int,
            steps: int) -> Runs:
    """``steps`` fresh batches of ``n`` pairs (GRPO groups of 16) each way, alternating."""
    runs = Runs()
    n_refs, group = max(n // GROUP, 1), min(n, GROUP)
    for step in range(steps + 2):
        a, b = fresh.grpo_batch(n_refs, group), fresh.grpo_batch(n_refs, group)
        order = [("serial", a), ("parallel", b)] if step % 2 else [("parallel", a), ("serial", b)]
        for side, (c, r) in order:
            if side == "serial":
                w, cpu = timed(partial(score_batch, step=step, config=config), c, r)
            else:
                w, cpu = timed(partial(scorer.score_batch, step=step), c, r)
            if step < 2:
                continue  # two batches bring every process's vocabulary to a steady state
            if side == "serial":
                runs.serial_wall.append(w)
                runs.serial_cpu.append(cpu)
            else:
                runs.parallel_wall.append(w)
                runs.stats.append(scorer.last_stats)
    return runs


def amdahl_model(r: dict[str, float], sweep: dict[int, float], k: int):
    """(f, p, q, r, serial share): fixed and per-pair cost of one call (least squares over the
    sweep), the caller's cost per pair shipped, the worker's extra cost per pair."""
    sizes = list(sweep)
    mean_n = statistics.fmean(sizes)
    mean_t = statistics.fmean(sweep.values())
    p = (sum((n - mean_n) * (t - mean_t) for n, t in sweep.items())
         / sum((n - mean_n) ** 2 for n in sizes))
    f = max(mean_t - p * mean_n, 0.0)
    shipped = 512 * (k - 1) / k
    q = r["overhead"] / shipped
    extra = max(r["worker"] - (f + p * 512 / k), 0.0) / (512 / k)
    return f, p, q, extra, r["overhead"] / r["serial_cpu"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed batches per measurement")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    k = args.workers
    set_num_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{k} processes\n")
    model = {}
    for name, config in CONFIGS.items():
        fresh = FreshText(seed=21)
        with ParallelScorer(k, config, min_pairs=1) as scorer:
            r = compare(scorer, config, fresh, 512, args.steps).row()
            print(f"{name}, fresh GRPO batches of 512 (32 x 16), medians of {args.steps}: "
                  f"1 process {r['serial_cpu'] * 1e3:.2f} ms CPU; {k} processes: caller's "
                  f"chunk {r['own'] * 1e3:.2f} ms, slowest worker chunk {r['worker'] * 1e3:.2f} "
                  f"ms, serial overhead {r['overhead'] * 1e3:.2f} ms -> {r['free'] * 1e3:.2f} ms "
                  f"on free cores, {r['free_speedup']:.2f}x; wall clock on this machine "
                  f"{r['serial_wall'] * 1e3:.2f} -> {r['parallel_wall'] * 1e3:.2f} ms "
                  f"({r['wall_speedup']:.2f}x)")
            print("\n| pairs | 1 process, CPU ms | {k} processes on free cores, ms | speed-up "
                  "| wall 1 process, ms | wall {k} processes, ms | wall speed-up |"
                  .replace("{k}", str(k)))
            print("|---:|---:|---:|---:|---:|---:|---:|")
            pays, sweep = None, {}
            for n in SIZES:
                row = compare(scorer, config, fresh, n, max(args.steps // 2, 6)).row()
                sweep[n] = row["serial_cpu"]
                if row["free_speedup"] <= 1:
                    pays = None  # it pays from a size on only if it pays for every larger one
                elif pays is None:
                    pays = n
                print(f"| {n} | {row['serial_cpu'] * 1e3:.2f} | {row['free'] * 1e3:.2f} | "
                      f"{row['free_speedup']:.2f}x | {row['serial_wall'] * 1e3:.2f} | "
                      f"{row['parallel_wall'] * 1e3:.2f} | {row['wall_speedup']:.2f}x |")
            print(f"\n{name}: {k} processes pay (on free cores) from {pays} pairs\n")
            model[name] = amdahl_model(r, sweep, k)
    print("Amdahl, batches of 512 pairs. One score_batch call costs f + p*n (fitted on the "
          "one-process sweep); a parallel call adds q per pair shipped to workers in the caller "
          "(serial) and r per pair in the worker (unpickling, pickling): "
          "T(N) = q*n*(N-1)/N + f + (p + r)*n/N.\n")
    print(f"| reward | f (ms) | p (us) | q (us) | r (us) | serial share at N={k} | N=2 | N=4 | "
          "N=8 | N=16 | limit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (f, p, q, r, share) in model.items():
        n = 512
        cells = [f"{(f + p * n) / (q * n * (m - 1) / m + f + (p + r) * n / m):.1f}x"
                 for m in (2, 4, 8, 16)]
        print(f"| {name} | {f * 1e3:.2f} | {p * 1e6:.1f} | {q * 1e6:.2f} | {r * 1e6:.2f} | "
              f"{share:.3f} | {' | '.join(cells)} | {(f + p * n) / (q * n + f):.1f}x |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
