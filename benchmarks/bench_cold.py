"""Cold start: what a fresh interpreter pays up to the end of its first default ``score_batch``.

Conditions, each a fresh interpreter scoring with the default reward (offline clinical judge),
run in turn ``--repeats`` times (interleaved, so machine load hits all alike):

* empty numba cache, no helper (``HIMED_REWARDS_COMPILE_HELPERS=0``): the kernels run in the
  interpreter (``himed_rewards/kernels/_interpret.py``), nothing is compiled;
* empty numba cache, one helper (``HIMED_REWARDS_COMPILE_HELPERS=1``): the same, while a
  helper process compiles the kernel list into the cache (a fresh install's default on an
  idle core);
* the same with a first call of 512 fresh pairs (a GRPO step) instead of one pair;
* empty numba cache, one helper, compiled at the first call (``HIMED_REWARDS_INTERPRET=0``:
  the process compiles the list from its start while the helper compiles from its middle;
  what a first call cost before the interpreter tier);
* warm cache.

For each: wall seconds, CPU seconds of the scoring process (user + system: on a machine with
a free core for the helper, this is about the wall time) and CPU seconds including the helper.
The median over repeats is printed. ``--breakdown`` adds where one empty-cache run that
compiles (helper off, ``HIMED_REWARDS_INTERPRET=0``) spends its CPU: imports, numba, each
kernel's compile (exclusive of the kernels it calls), LLVM, cache files, and the rest
(tables, Python).

    python benchmarks/bench_cold.py [--repeats 3] [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from _common import ROOT

FIRST = (
    "from himed_rewards import score_batch\n"
    "score_batch(['<think>a</think><finding>Lungs clear.</finding>"
    "<impression>Normal.</impression>'], ['Lungs are clear.'])\n"
)
# 512 distinct pairs, 32 references of 16 completions each
FIRST_GRPO = (
    "from himed_rewards import score_batch\n"
    "refs = [f'Heart size normal. No effusion {k}. Lungs are clear.' for k in range(32)]\n"
    "score_batch([f'<think>a</think><finding>Lungs clear, case {k}. Mild effusion {k % 7}."
    "</finding><impression>Normal.</impression>' for k in range(512)],"
    " [r for r in refs for _ in range(16)])\n"
)
SELF_CPU = (
    "import json, resource\n"
    "r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(json.dumps({'self_cpu': r.ru_utime + r.ru_stime}))\n"
)

BREAKDOWN = r'''
import functools, json, time
t0 = time.process_time()
import himed_rewards.rewards  # noqa: F401  (the package's reward layer, no numba yet)
t_import = time.process_time() - t0
import numba
from numba.core import caching, codegen, event
t_numba = time.process_time() - t0 - t_import
llvm = {}
def wrap(owner, name, label):
    original = getattr(owner, name)
    @functools.wraps(original)
    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            llvm[label] = llvm.get(label, 0.0) + time.process_time() - start
    setattr(owner, name, timed)
wrap(codegen.CPUCodeLibrary, "_optimize_functions", "LLVM function passes")
wrap(codegen.CPUCodeLibrary, "_optimize_final_module", "LLVM module passes")
wrap(codegen.JITCodeLibrary, "_finalize_specific", "LLVM machine code")
wrap(caching.Cache, "save_overload", "cache files written")
stack, kernels = [], {}
class Compiles(event.Listener):
    def on_start(self, ev):
        stack.append([time.process_time(), 0.0])
    def on_end(self, ev):
        start, inner = stack.pop()
        spent = time.process_time() - start
        if stack:
            stack[-1][1] += spent
        func = ev.data["dispatcher"].py_func
        name = func.__module__.rsplit(".", 1)[-1] + "." + func.__qualname__
        if not func.__module__.startswith("himed_rewards"):
            name = "numba internals (np.empty, sort, ...)"
        n, total = kernels.get(name, (0, 0.0))
        kernels[name] = (n + 1, total + spent - inner)
event.register("numba:compile", Compiles())
from himed_rewards import score_batch
t1 = time.process_time()
score_batch(["<think>a</think><finding>Lungs clear.</finding><impression>Normal.</impression>"],
            ["Lungs are clear."])
t_first = time.process_time() - t1
print(json.dumps({"import himed_rewards.rewards": t_import, "import numba": t_numba,
                  "first score_batch": t_first, "kernels": kernels, "llvm": llvm}))
'''


def _env(cache: str, helpers: str | None, interpret: str | None = None) -> dict[str, str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name, value in (("HIMED_REWARDS_COMPILE_HELPERS", helpers),
                        ("HIMED_REWARDS_INTERPRET", interpret)):
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return env


def run_once(cache: str, helpers: str | None, interpret: str | None = None,
             first: str = FIRST) -> dict[str, float]:
    """Wall, own CPU and CPU with descendants of one fresh interpreter's first score_batch."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", first + SELF_CPU],
                          env=_env(cache, helpers, interpret),
                          capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = json.loads(done.stdout.strip().splitlines()[-1])["self_cpu"]
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": own, "cpu_all": total}


def conditions(repeats: int) -> dict[str, list[dict[str, float]]]:
    # name: (cache, helpers, HIMED_REWARDS_INTERPRET, first call)
    setups = {
        "empty, no helper": ("empty", "0", None, FIRST),
        "empty, one helper": ("empty", "1", None, FIRST),
        "empty, one helper, first call of 512 pairs": ("empty", "1", None, FIRST_GRPO),
        "empty, one helper, compiled at the first call": ("empty", "1", "0", FIRST),
        "warm": ("warm", None, None, FIRST),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory() as warm_cache:
        run_once(warm_cache, "0", "0")  # fills it
        for _ in range(repeats):
            for name, (cache_kind, helpers, interpret, first) in setups.items():
                if cache_kind == "warm":
                    runs[name].append(run_once(warm_cache, helpers, interpret, first))
                    continue
                with tempfile.TemporaryDirectory() as cache:
                    runs[name].append(run_once(cache, helpers, interpret, first))
    return runs


def breakdown() -> None:
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run([sys.executable, "-c", BREAKDOWN], env=_env(cache, "0", "0"),
                              capture_output=True, text=True, check=True, cwd=ROOT)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    kernels = data.pop("kernels")
    llvm = data.pop("llvm")
    compiled = sum(total for _, total in kernels.values())
    print("\nempty cache, no helper, compiled at the first call: CPU seconds\n")
    print("| part | CPU s |")
    print("|---|---:|")
    for name, value in data.items():
        print(f"| {name} | {value:.2f} |")
    print(f"| of which compiling ({sum(n for n, _ in kernels.values())} functions) | "
          f"{compiled:.2f} |")
    for name, value in llvm.items():
        print(f"| of which {name} | {value:.2f} |")
    print(f"| of which the rest (tables, Python, cache look-ups) | "
          f"{data['first score_batch'] - compiled:.2f} |")
    print("\nlargest compiles (exclusive of the kernels they call), CPU s\n")
    print("| function | compiles | CPU s |")
    print("|---|---:|---:|")
    for name, (n, value) in sorted(kernels.items(), key=lambda kv: -kv[1][1])[:10]:
        print(f"| {name} | {n} | {value:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    runs = conditions(args.repeats)
    print(f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, "
          f"{os.cpu_count()} cores; median of {args.repeats}\n")
    print("| first default score_batch | wall s | CPU s, the process | CPU s, with the helper |")
    print("|---|---:|---:|---:|")
    for name, values in runs.items():
        med = {k: statistics.median(v[k] for v in values) for k in values[0]}
        print(f"| {name} | {med['wall']:.2f} | {med['cpu']:.2f} | {med['cpu_all']:.2f} |")
    if args.breakdown:
        breakdown()


if __name__ == "__main__":
    main()
