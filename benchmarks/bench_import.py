"""What importing costs: CPU seconds of a fresh interpreter for each import statement.

Best of 5 per statement, minus a bare interpreter's start (``python -c pass``), so the figure
is the import alone.

    python benchmarks/bench_import.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from _common import ROOT

STATEMENTS = (
    "import himed_rewards",
    "from himed_rewards import score_batch, RewardConfig",
    "from himed_rewards.metrics import sentence_bleu",
    "from himed_rewards.judge import LLMJudge",
)


def cpu_seconds(statement: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    best = float("inf")
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", statement], env=env, check=True, cwd=ROOT)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def main() -> None:
    bare = cpu_seconds("pass")
    print(f"bare interpreter start: {bare:.3f} s (subtracted below)\n")
    print("| statement | CPU seconds |")
    print("|---|---:|")
    for statement in STATEMENTS:
        print(f"| `{statement}` | {max(cpu_seconds(statement) - bare, 0.0):.3f} |")


if __name__ == "__main__":
    main()
