"""When the offline judge reaches its kernels, starting from an empty numba cache.

The judge's kernels (``_signatures.BACKGROUND``, about 10 s to compile) are used once they are
in the cache or compiled (``clinical/encoded.py:kernel_ready``); until then the judge scores
in the interpreter, 2-3 times slower. Each condition is a fresh interpreter on an empty
``NUMBA_CACHE_DIR`` scoring fresh GRPO batches (``_common.FreshText``) one after the other,
until the kernels come into use or ``--batches`` have passed:

* **the judge alone**: ``OfflineClinicalJudge.score_batch`` on the completions' reports (an
  evaluation script, a reward of the user's own), compile helpers allowed (one, on an idle
  core);
* **the default reward, no helper**: ``score_batch`` with ``HIMED_REWARDS_COMPILE_HELPERS=0``
  (as on a machine with no idle core).

For each: the batch and the wall second at which the kernels came into use, the judging (or
scoring) CPU seconds until then, and microseconds per pair (wall) over the 25 batches before
and the 100 after.

    python benchmarks/bench_judge_cold.py [--batches 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import ROOT

CHILD = r'''
import json, sys, time
sys.path.insert(0, {bench!r})
start = time.perf_counter()
from _common import FreshText
from himed_rewards.clinical import encoded
from himed_rewards.rewards.format import parse_completion
alone = {alone!r}
if alone:
    from himed_rewards.clinical.judge import OfflineClinicalJudge
    judge = OfflineClinicalJudge()
    def score(c, r):
        reports = [parse_completion(x)[0] for x in c]  # (untimed: no kernel imported)
        t = time.perf_counter(); judge.score_batch(reports, r); return time.perf_counter() - t
else:
    from himed_rewards import score_batch
    def score(c, r):
        t = time.perf_counter(); score_batch(c, r); return time.perf_counter() - t
fresh = FreshText(seed=41)
walls, cpu, switched = [], time.process_time(), None
for k in range({batches}):
    c, r = fresh.grpo_batch()
    walls.append(score(c, r))
    if switched is None and encoded._READY["ready"]:
        switched = {{"batch": k + 1, "wall_s": time.perf_counter() - start,
                    "cpu_s": time.process_time() - cpu}}
    if switched is not None and k + 1 >= switched["batch"] + 100:
        break
pair = lambda ws: sum(ws) / len(ws) / 512 * 1e6 if ws else float("nan")
at = switched["batch"] if switched else len(walls)
print(json.dumps({{"switched": switched, "before_us": pair(walls[max(0, at - 26):at - 1]),
                  "after_us": pair(walls[at:at + 100]), "batches": len(walls)}}))
'''


def run(alone: bool, batches: int) -> dict:
    """One fresh interpreter on an empty cache (see the module's doc)."""
    code = CHILD.format(bench=str(ROOT / "benchmarks"), alone=alone, batches=batches)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache,
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env.pop("HIMED_REWARDS_INTERPRET", None)
        env["HIMED_REWARDS_COMPILE_HELPERS"] = "1" if alone else "0"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at the start, {os.cpu_count()} cores; fresh "
          "GRPO batches of 512 pairs from an empty numba cache\n")
    print("| process | kernels from batch | at wall s | CPU s until then | us per pair before "
          "(wall, 25 batches) | after (100 batches) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, alone in (("the judge alone, one helper allowed", True),
                        ("the default reward, no helper", False)):
        out = run(alone, args.batches)
        got = out["switched"]
        where = (f"{got['batch']} | {got['wall_s']:.1f} | {got['cpu_s']:.1f}" if got
                 else f"never ({out['batches']} batches) | - | -")
        print(f"| {name} | {where} | {out['before_us']:.1f} | {out['after_us']:.1f} |")


if __name__ == "__main__":
    main()
