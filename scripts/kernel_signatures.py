"""Write himed_rewards/kernels/_signatures.py: the kernels a default ``score_batch`` calls.

Runs ``WORKLOAD`` in a fresh interpreter with an empty numba cache and records, in order,
every kernel compiled from Python (not from inside another kernel, except the kernels that
``kernels/reward.py``'s one-call driver calls, listed before it) with its argument types;
then ``BACKGROUND_WORKLOAD``, whose new kernels go to a second list, ``BACKGROUND``: kernels
that only the compile helpers build, after the first list (the offline judge's kernel, which
a process uses once it is cached; see clinical/encoded.py).
Rerun after changing a kernel's arguments or the reward's kernel calls;
``tests/kernels/test_precompile.py`` fails while the list is out of date.

    python scripts/kernel_signatures.py [--check]   (--check: compare, write nothing)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "himed_rewards" / "kernels" / "_signatures.py"

# What a training run's first steps do: warmup()'s batch (not warmup() itself, which compiles
# this list in its order), then default-config batches of the bundled examples and of text
# long enough to grow the vocabulary's hash table.
WORKLOAD = """
from himed_rewards import RewardConfig, score_batch
from himed_rewards.examples import example_pairs
score_batch(["<think>a</think><finding>b c</finding><impression>d</impression>", "b"],
            ["b c d", "b c d"], config=RewardConfig(semantic=None))
pairs = example_pairs()
completions = [p.completion for p in pairs]
references = [p.reference for p in pairs]
score_batch(completions, references)
score_batch(completions, references, config=RewardConfig(semantic=None))
words = " ".join(f"w{i}x" for i in range(3000))
score_batch([f"<think>a</think><finding>{words}</finding><impression>b</impression>"],
            [words[::-1]])
"""

# Kernels a process starts using only once they are compiled: the helpers' second list.
BACKGROUND_WORKLOAD = """
from himed_rewards.clinical.encoded import use_judge_kernel
use_judge_kernel()
"""

_RECORDER = """
import json, sys, time
from numba.core import event
from himed_rewards.kernels._precompile import encode_type
DRIVERS = "himed_rewards.kernels.reward"  # kernels whose callees are listed too
seen = []
inside = []  # the listed kernels first compiled inside a driver
stack = []  # per compile in progress: [module, start, seconds of the callees listed]
class Recorder(event.Listener):
    def on_start(self, ev):
        stack.append([ev.data["dispatcher"].py_func.__module__, time.process_time(), 0.0])
    def on_end(self, ev):
        module, start, listed = stack.pop()
        seconds = time.process_time() - start
        func = ev.data["dispatcher"].py_func
        # A compile from Python is listed; so is a compile inside a driver kernel (the big
        # kernels it calls), before the driver, whose seconds are then its own
        if (not stack or stack[-1][0] == DRIVERS) and func.__module__.startswith("himed_rewards."):
            entry = [func.__module__, func.__qualname__,
                     [encode_type(t) for t in ev.data["args"]], round(seconds - listed, 1)]
            if entry[:3] not in [e[:3] for e in seen]:
                seen.append(entry)
                if stack:
                    inside.append([func.__module__, func.__qualname__])
            if stack:
                stack[-1][2] += seconds
event.register("numba:compile", Recorder())
exec(sys.argv[1])
first = len(seen)
exec(sys.argv[2])
print(json.dumps([seen[:first], seen[first:], inside]))
"""


def record(workload: str = WORKLOAD, background: str = BACKGROUND_WORKLOAD,
           ) -> tuple[list[list], list[list], list[list]]:
    """The kernels ``workload`` compiles from Python, in order, in a fresh interpreter, those
    ``background`` compiles after it, and ``[module, name]`` of the listed kernels compiled
    only inside a driver, sorted (their first call from Python, if any, loads the driver's
    code)."""
    with tempfile.TemporaryDirectory() as cache:
        # (compiled at the first call: the interpreter tier of a cold cache compiles nothing)
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "HIMED_REWARDS_COMPILE_HELPERS": "0",
               "HIMED_REWARDS_INTERPRET": "0",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, "-c", _RECORDER, workload, background], env=env,
                              cwd=ROOT,
                              capture_output=True, text=True, check=True)
    first, second, inside = json.loads(done.stdout.strip().splitlines()[-1])
    return first, second, [list(pair) for pair in sorted({tuple(pair) for pair in inside})]


def render(found: list[list], background: list[list], inside: list[list]) -> str:
    lines = [
        '"""The kernels a default ``score_batch`` calls from Python, with their argument types,',
        "in call order, and the CPU seconds each took to compile (with the kernels it calls) on the",
        "machine that wrote the list: what ``_precompile`` compiles ahead of the calls. Before a",
        "driver kernel (``kernels/reward.py``) come the kernels it calls (``INSIDE``), so that the",
        "helpers and the process share their compiles; the seconds of a driver are its own.",
        "``BACKGROUND``: kernels only the helpers compile, after those (see clinical/encoded.py).",
        "",
        "Written by ``scripts/kernel_signatures.py``; do not edit by hand.",
        '"""',
        "",
    ]
    for title, entries in (("SIGNATURES", found), ("BACKGROUND", background)):
        lines.append(f"{title}: tuple[tuple[str, str, tuple[str, ...], float], ...] = (")
        for module, name, args, seconds in entries:
            lines.append(f"    ({module!r}, {name!r}, (")
            for arg in args:
                lines.append(f"        {arg!r},")
            lines.append(f"    ), {seconds!r}),")
        lines.append(")")
    lines.append("# kernels listed above for the helpers that a process only calls inside a driver")
    lines.append("INSIDE: tuple[tuple[str, str], ...] = (")
    for module, name in inside:
        lines.append(f"    ({module!r}, {name!r}),")
    lines.append(")")
    return "\n".join(lines) + "\n"


def current() -> tuple[list[list], list[list], list[list]]:
    """What the file lists now: ``[module, name, [argument types]]`` per kernel, in each list,
    and ``[module, name]`` of the kernels only called inside a driver, sorted."""
    namespace: dict = {}
    if TARGET.exists():
        exec(TARGET.read_text(), namespace)  # generated constants, nothing else
    lists = [[[m, n, list(a)] for m, n, a, _ in namespace.get(title, ())]
             for title in ("SIGNATURES", "BACKGROUND")]
    return lists[0], lists[1], [list(pair) for pair in namespace.get("INSIDE", ())]


def comparable(found: list[list], background: list[list], inside: list[list]) -> tuple:
    """``record()``'s lists in ``current()``'s form (no seconds)."""
    return [e[:3] for e in found], [e[:3] for e in background], inside


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the kernels or their types differ from the file's")
    args = parser.parse_args()
    found, background, inside = record()
    if args.check:
        same = comparable(found, background, inside) == current()
        print("up to date" if same else f"{TARGET} is out of date: run {__file__}")
        return 0 if same else 1
    TARGET.write_text(render(found, background, inside))
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
