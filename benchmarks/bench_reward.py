"""The HiMed reward on fresh GRPO batches against sacrebleu + rouge-score + nltk METEOR.

Primary figures: every step brings never-seen completions (and references), as in training,
so no cache of ours or of the anchors hits. Each step brings two fresh batches, one for the
low-level reward (semantic level off) and one for the default reward (offline clinical judge),
so neither finds the other's words already learnt; the anchors (sacrebleu ``sentence_bleu`` +
rouge-score ROUGE-L + nltk ``meteor_score`` per pair) score each batch too, right before or
after the reward, in turn, so machine load hits both alike; each ratio is of the summed
times on the same batches. Times are CPU seconds of this process (``time.process_time``), robust to other jobs on a
shared machine. Shapes: GRPO (32 references x 16 completions) and 512 distinct pairs; with
more than one thread, also GRPO batches whose completions reason at length first
(:data:`REASONING_WORDS` words in ``<think>``, about 2 KB; the anchors score the finding
alone, as in every shape). Secondary: the
590 real pairs scored over and over (caches warm). Also the share of each stage, the offline
judge alone (in this process, by the batches a fresh judge has seen, and used alone in a new
interpreter that imports nothing else), a 1 vs 2 process comparison, and the cold cost.

    python benchmarks/bench_reward.py [--steps 12]
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import sacrebleu
from _common import FreshText, cold_costs, finding_of, pairs, per_pair_us, timed
from rouge_score.rouge_scorer import RougeScorer

from himed_rewards import RewardConfig, get_num_threads, score_batch, set_num_threads, warmup
from himed_rewards.clinical.sentences import clear_caches
from himed_rewards.rewards import judge_process

OFF = RewardConfig(semantic=None)


def anchors():
    """The per-pair reference pipeline; None when nltk's WordNet is missing."""
    try:
        from nltk.translate.meteor_score import meteor_score

        meteor_score([["a"]], ["a"])  # loads WordNet once, outside the timings
    except LookupError:
        print("nltk WordNet not found (run .ci/setup_wordnet.sh and export NLTK_DATA)")
        return None
    scorer = RougeScorer(["rougeL"])

    def run(completions: list[str], references: list[str]) -> None:
        for c, r in zip(completions, references, strict=True):
            h = finding_of(c)
            sacrebleu.sentence_bleu(h, [r])
            scorer.score(r, h)
            meteor_score([r.split()], h.split())

    return run


def score_low(completions: list[str], references: list[str]) -> None:
    score_batch(completions, references, config=OFF)


# Untimed fresh batches before the timed ones: our vocabulary, the judge's sentence records
# and the anchors' WordNet look-ups reach the steady state of a training run. The judge's
# records are the slowest: its cost per pair keeps falling until about 100 GRPO batches (the
# records of sentences that differ from a known one only in their numbers are written from a
# template, made when a second sentence of the same digit mask comes): see judge_warmth()
# and docs/benchmarks.md. The anchors keep nothing past 3.
WARM_BATCHES = 100
# stages() and judge_cases() time one stage each, with a collection before it (cold caches):
# the judge's cost per pair no longer falls after about 25 batches there (judge_warmth)
STAGE_WARM_BATCHES = 30
WARM_ANCHOR_BATCHES = 3
# The reasoning of the "long reasoning" shape, in words: about 2 KB of text before the report.
REASONING_WORDS = 300


def fresh_run(shape: str, steps: int, anchor, warm: int = WARM_BATCHES, threads: int = 1,
              seed: int = 0) -> dict[str, float]:
    """Seconds summed over ``steps`` steps for the low-level and the default reward, each on
    its own fresh batch, and the anchors on each of the two, after ``warm`` untimed batches.
    With ``threads`` 1, CPU seconds; with more, wall seconds (see the module's doc).
    ``seed``: another run in the same process needs another, or its text is not new.

    The two rewards never score the same batch: the one that ran second would find the
    batch's words interned and their METEOR keys learnt, which training never does.
    """
    set_num_threads(threads)
    try:
        return _fresh_run(shape, steps, anchor, warm,
                          time.process_time if threads == 1 else time.perf_counter, seed)
    finally:
        set_num_threads(None)


def _fresh_run(shape: str, steps: int, anchor, warm: int, clock, seed: int
               ) -> dict[str, float]:
    # each run as a new process starts it: the judge's records of an earlier run are
    # forgotten (in a process whose judge runs in a helper, this one's would stay empty)
    clear_caches()
    fresh = FreshText(seed=seed + {"grpo": 1, "distinct": 2, "reasoning": 3}[shape],
                      reasoning_words=REASONING_WORDS if shape == "reasoning" else 0)
    make = fresh.distinct_batch if shape == "distinct" else fresh.grpo_batch
    # With two threads or more the judge's helper process takes a share of each default
    # batch (rewards/judge_process.py): started now, so that its sentence records warm up
    # with the warm batches, as a training run's would over its first steps.
    judge_process.start(wait_s=60.0)
    for k in range(warm):
        c, r = make()
        score_batch(c, r, config=OFF)
        score_batch(*make())
        if anchor is not None and k < WARM_ANCHOR_BATCHES:
            anchor(c, r)
    gc.collect()
    gc.freeze()  # nltk's WordNet is millions of objects: no side should pay to rescan them
    totals = {"anchors low": 0.0, "low": 0.0, "anchors default": 0.0, "default": 0.0,
              "pairs": 0}
    for step in range(steps):
        batches = {"low": make(), "default": make()}
        # each reward right after the anchors' run on its batch, or before it, in turn
        order = ["anchors low", "low", "anchors default", "default"]
        if step % 2:
            order = ["low", "anchors low", "default", "anchors default"]
        for name in order:
            c, r = batches[name.split()[-1]]
            if name.startswith("anchors"):
                if anchor is not None:
                    totals[name] += timed(anchor, c, r, clock=clock)
            elif name == "low":
                totals[name] += timed(score_low, c, r, clock=clock)
            else:
                totals[name] += timed(score_batch, c, r, clock=clock)
        totals["pairs"] += len(batches["low"][0])
    return totals


def stages(steps: int) -> dict[str, float]:
    """Microseconds per pair of each stage of the low-level reward on fresh GRPO batches
    (the functions ``score_batch`` calls, one after the other, as it calls them). The
    garbage collector is off while the low-level stages run, after a collection, so that a
    collection the whole call would trigger is not charged to whichever stage it lands in."""
    from himed_rewards.metrics._layout import layout_for_encoded
    from himed_rewards.rewards.compose import _combine, _vocabulary
    from himed_rewards.rewards.format_batch import parse_completions
    from himed_rewards.rewards.low_level import fused_columns
    from himed_rewards.text.tokenizers import get_tokenizer
    from himed_rewards.text.wordnet import METEOR_KEYS

    fresh = FreshText(seed=7)
    tokenizer = get_tokenizer("default")
    vocabulary = _vocabulary(None)
    judge = RewardConfig().semantic
    out = dict.fromkeys(["parse", "tokenize + intern", "METEOR keys of new words",
                         "BLEU, ROUGE-L, METEOR, keywords and sums (one kernel call)",
                         "combine", "offline judge"], 0.0)
    n = 0
    for _ in range(STAGE_WARM_BATCHES):  # (the judge's records: judge_warmth)
        c, r = fresh.grpo_batch()
        score_batch(c, r)
    for step in range(steps + 2):
        c, r = fresh.grpo_batch()
        t = {}
        gc.collect()
        gc.disable()
        t0 = time.process_time()
        parsed = parse_completions(c)
        t["parse"] = time.process_time() - t0
        t0 = time.process_time()
        layout = layout_for_encoded(*parsed.encode(tokenizer), r, tokenizer)
        t["tokenize + intern"] = time.process_time() - t0
        t0 = time.process_time()
        METEOR_KEYS.arrays(layout.hyp_ids, layout.ref_ids)  # (then known to fused_columns)
        t["METEOR keys of new words"] = time.process_time() - t0
        t0 = time.process_time()
        columns, matched = fused_columns(layout, parsed.formats, OFF, vocabulary)
        t["BLEU, ROUGE-L, METEOR, keywords and sums (one kernel call)"] = \
            time.process_time() - t0
        t0 = time.process_time()
        _combine(OFF, 0, parsed.formats, columns, matched, None)
        t["combine"] = time.process_time() - t0
        gc.enable()
        t["offline judge"] = timed(judge.score_columns, parsed.reports(), r)  # (as the reward)
        if step >= 2:  # the first two batches bring the vocabulary to its steady state
            n += len(c)
            for k, v in t.items():
                out[k] += v
    return {k: v / n * 1e6 for k, v in out.items()}


def judge_warmth(batches: int = 150, every: int = 25, call: str = "score_columns"
                 ) -> dict[str, float]:
    """Microseconds per pair (CPU) of the offline clinical judge on fresh GRPO batches, by
    how many batches a fresh judge has seen: how many untimed batches a steady state needs.
    (The judge's records are reset first, as in a new process; no collection before each
    batch, as in training or in the judge's helper process, so that the CPU's caches are
    not emptied and the table shows what the records save.) ``call``: the judge's method,
    ``score_columns`` (the reward's) or ``score_batch`` (its verdicts)."""
    # (the reports parsed one by one in Python, untimed: the batch parse calls a kernel,
    # which would import numba in judge_alone's process)
    from himed_rewards.rewards.format import parse_completion

    judge = RewardConfig().semantic
    fresh = FreshText(seed=31)
    clear_caches()
    out, total, n = {}, 0.0, 0
    for k in range(1, batches + 1):
        c, r = fresh.grpo_batch()
        reports = [parse_completion(x)[0] for x in c]
        start = time.process_time()
        getattr(judge, call)(reports, r)
        total += time.process_time() - start
        n += len(c)
        if k % every == 0:
            out[f"{k - every + 1}-{k}"] = total / n * 1e6
            total, n = 0.0, 0
    return out


# What judge_alone runs in a new interpreter (neither this module nor judge_warmth imports
# numba: the judge's own question does, once its budget is spent)
_JUDGE_ALONE = """
import json, sys
sys.path.insert(0, {benchmarks!r})
import bench_reward
from himed_rewards.clinical import encoded
out = bench_reward.judge_warmth({batches}, {every}, call="score_batch")
out["kernel used"] = encoded._READY["ready"]
print(json.dumps(out))
"""


def judge_alone(batches: int = 150, every: int = 25) -> dict[str, float | bool]:
    """Microseconds per pair (CPU) of the offline clinical judge used alone, in a new
    interpreter that imports nothing else (an evaluation script): fresh GRPO batches'
    reports through ``OfflineClinicalJudge.score_batch``, by window of batches. Such a
    process comes to the judge's kernels once its interpreter's path has spent
    ``clinical.encoded.INTERPRETER_BUDGET_S`` (before that rule it never did)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = _JUDGE_ALONE.format(benchmarks=str(Path(__file__).resolve().parent),
                                 batches=batches, every=every)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])


def judge_cases(steps: int) -> dict[str, float]:
    """Microseconds per pair of the offline clinical judge alone on fresh GRPO batches, as
    the sentence cache sees them: text recombined from real sentences (most sentences met
    before), every sentence analysed afresh (the caches emptied before each batch: only
    sharing within the batch is left), and every sentence carrying a word never seen (what a
    policy early in training writes; the cache then only helps through skeletons)."""
    from himed_rewards.rewards.format import parse_completion

    judge = RewardConfig().semantic
    cases = {"fresh GRPO batches": (FreshText(seed=21), False),
             "every sentence analysed (caches emptied before each batch)":
                 (FreshText(seed=22), True),
             "a never-seen word in every sentence": (FreshText(seed=23, new_word_per_sentence=True),
                                                     False)}  # fmt: skip
    out = {}
    for name, (fresh, empty) in cases.items():
        total, n = 0.0, 0
        for _ in range(0 if empty else STAGE_WARM_BATCHES):  # the records' steady state
            c, r = fresh.grpo_batch()
            judge.score_batch([parse_completion(x)[0] for x in c], r)
        for step in range(steps + 2):
            c, r = fresh.grpo_batch()
            reports = [parse_completion(x)[0] for x in c]
            if empty:
                clear_caches()
            t = timed(judge.score_batch, reports, r)
            if step >= 2:
                total, n = total + t, n + len(c)
        out[name] = total / n * 1e6
    return out


def _worker(args: tuple[int, int]) -> float:
    seed, steps = args
    set_num_threads(1)  # one core per process: the processes share the machine's two
    fresh = FreshText(seed=seed)
    batches = [fresh.grpo_batch() for _ in range(steps + 1)]
    score_batch(*batches[0], config=OFF)
    start = time.perf_counter()
    for c, r in batches[1:]:
        score_batch(c, r, config=OFF)
    return time.perf_counter() - start


def processes(steps: int) -> tuple[float, float]:
    """Batches per second with 1 process and with 2 processes scoring side by side."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        pool.submit(warmup).result()
        one = pool.submit(_worker, (11, steps)).result()
        two = list(pool.map(_worker, [(12, steps), (13, steps)]))
    return steps / one, 2 * steps / max(two)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="timed fresh batches per shape")
    parser.add_argument("--warm", type=int, default=WARM_BATCHES,
                        help="untimed fresh batches before them (steady state)")
    args = parser.parse_args()
    warmup()
    anchor = anchors()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    print(f"fresh batches ({args.steps} per shape after {args.warm} untimed, never-seen text); "
          "microseconds per pair\n")
    print("| shape | threads, clock | anchors | low-level reward | speed-up "
          "| default reward (offline judge) | speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|")
    threads = get_num_threads()
    runs = [(1, 0)] + ([(threads, 10)] if threads > 1 else [])
    for n_threads, seed in runs:
        shapes = [("grpo", "GRPO 32 refs x 16"), ("distinct", "512 distinct pairs")]
        if n_threads > 1:
            shapes.append(("reasoning", f"GRPO, {REASONING_WORDS}-word reasoning"))
        for shape, label in shapes:
            t = fresh_run(shape, args.steps, anchor, args.warm, n_threads, seed)
            us = {k: v / t["pairs"] * 1e6 for k, v in t.items() if k != "pairs"}
            anchors_us = (us["anchors low"] + us["anchors default"]) / 2
            clock = "1, CPU" if n_threads == 1 else f"{n_threads}, wall"
            print(f"| {label} | {clock} | {anchors_us:.0f} | {us['low']:.2f} | "
                  f"{us['anchors low'] / us['low']:.0f}x | {us['default']:.2f} | "
                  f"{us['anchors default'] / us['default']:.0f}x |")
    set_num_threads(1)  # CPU times of single stages: one thread
    print("\nstages of the reward on fresh GRPO batches, one thread, microseconds per pair\n")
    print("| stage | us per pair |")
    print("|---|---:|")
    for name, value in stages(max(args.steps // 2, 3)).items():
        print(f"| {name} | {value:.2f} |")
    print("\noffline clinical judge alone on fresh GRPO batches, microseconds per pair\n")
    print("| text | us per pair |")
    print("|---|---:|")
    for name, value in judge_cases(max(args.steps // 2, 3)).items():
        print(f"| {name} | {value:.2f} |")
    print("\noffline clinical judge by the fresh GRPO batches it has seen (a new process's "
          "records), microseconds per pair\n")
    print("| batches | us per pair |")
    print("|---|---:|")
    for name, value in judge_warmth().items():
        print(f"| {name} | {value:.2f} |")
    print("\noffline clinical judge used alone, in a new process that imports nothing else "
          "(OfflineClinicalJudge.score_batch), by the fresh GRPO batches it has seen, "
          "microseconds per pair\n")
    print("| batches | us per pair |")
    print("|---|---:|")
    alone = judge_alone()
    for name, value in alone.items():
        print(f"| {name} | {value} |" if isinstance(value, bool) else f"| {name} | {value:.2f} |")
    hyps, refs = pairs()
    completions = [f"<think>x</think><finding>{h}</finding><impression>-</impression>" for h in hyps]
    t_ref = per_pair_us(lambda: anchor(completions, refs), len(hyps), repeats=3) if anchor else 0
    t_off = per_pair_us(lambda: score_batch(completions, refs, config=OFF), len(hyps))
    t_on = per_pair_us(lambda: score_batch(completions, refs), len(hyps))
    print(f"\nsecondary, the 590 real pairs over and over (caches warm): anchors {t_ref:.0f} us, "
          f"low-level {t_off:.2f} us ({t_ref / t_off:.0f}x), default {t_on:.2f} us "
          f"({t_ref / t_on:.0f}x) per pair")
    one, two = processes(max(args.steps, 8))
    print(f"\nGRPO batches per second, low-level reward: 1 process {one:.1f}, 2 processes "
          f"{two:.1f} ({two / one:.2f}x), one thread each")
    set_num_threads(None)
    first = ("from himed_rewards import score_batch; score_batch(['<think>a</think><finding>"
             "Lungs clear.</finding><impression>Normal.</impression>'], ['Lungs are clear.'])")
    empty, warm = cold_costs(first)
    print(f"\ncold cost (start, import + first default score_batch, CPU seconds): {empty:.2f} s "
          f"compiling into an empty numba cache, {warm:.2f} s with it warm (bench_cold.py: the "
          "first call on an empty cache runs the kernels in the interpreter instead)")


if __name__ == "__main__":
    main()
