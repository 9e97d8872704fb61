"""BLEU and ROUGE-L against sacrebleu and rouge-score: fresh text first, then the 590 real pairs.

Primary: batches of 512 never-seen (hypothesis, reference) pairs (real sentences recombined,
see ``_common.FreshText``), ours and the reference scored on the same batch in alternating
order, ratio of the summed times. Secondary: the 590 real IU X-ray pairs scored over and over
(every cache warm), per-pair calls, the max |ours - reference|, and the cold cost.
"""

from __future__ import annotations

import gc
import time

import numpy as np
import sacrebleu
from _common import FreshText, cold_costs, pairs, per_pair_us
from rouge_score.rouge_scorer import RougeScorer

from himed_rewards.metrics import rouge_l, rouge_l_batch, sentence_bleu, sentence_bleu_batch


def fresh_ratio(ours, theirs, steps: int = 10, n: int = 512) -> tuple[float, float]:
    """Microseconds per pair (reference, ours) over ``steps`` fresh batches of ``n`` pairs."""
    fresh = FreshText(seed=3)
    for _ in range(2):  # vocabulary to a steady state, untimed
        h, r = [fresh.report() for _ in range(n)], [fresh.report() for _ in range(n)]
        ours(h, r)
        theirs(h, r)
    gc.collect()
    gc.freeze()  # objects made so far are not rescanned on either side's time
    t_ours = t_theirs = 0.0
    for step in range(steps):
        h, r = [fresh.report() for _ in range(n)], [fresh.report() for _ in range(n)]
        for which in ((0, 1) if step % 2 else (1, 0)):
            gc.collect()
            start = time.process_time()  # CPU time: robust to other jobs on the machine
            (ours if which == 0 else theirs)(h, r)
            elapsed = time.process_time() - start
            if which == 0:
                t_ours += elapsed
            else:
                t_theirs += elapsed
    scale = 1e6 / (steps * n)
    return t_theirs * scale, t_ours * scale


def main() -> None:
    hyps, refs = pairs()
    n = len(hyps)
    scorer = RougeScorer(["rougeL"])

    def sacre(h, r):
        return [sacrebleu.sentence_bleu(a, [b]) for a, b in zip(h, r, strict=True)]

    def rouge_score(h, r):
        return [scorer.score(b, a) for a, b in zip(h, r, strict=True)]

    print("fresh text: 10 batches of 512 never-seen pairs; microseconds per pair\n")
    print("| metric | reference | ours (batch) | speed-up |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs in (("sentence BLEU", sentence_bleu_batch, sacre),
                               ("ROUGE-L F", rouge_l_batch, rouge_score)):
        t_ref, t_ours = fresh_ratio(ours, theirs)
        print(f"| {name} | {t_ref:.1f} | {t_ours:.2f} | {t_ref / t_ours:.0f}x |")

    ref_bleu = [s.score / 100 for s in sacre(hyps, refs)]
    ref_rouge = [s["rougeL"].fmeasure for s in rouge_score(hyps, refs)]
    ours_bleu = sentence_bleu_batch(hyps, refs)
    ours_rouge = rouge_l_batch(hyps, refs).fmeasure
    rows = []
    t_sacre = per_pair_us(lambda: sacre(hyps, refs), n)
    t_bleu = per_pair_us(lambda: sentence_bleu_batch(hyps, refs), n, repeats=30)
    t_bleu1 = per_pair_us(lambda: [sentence_bleu(h, r) for h, r in zip(hyps, refs, strict=True)], n)
    rows.append(("sentence BLEU", t_sacre, t_bleu, t_bleu1, np.abs(ours_bleu - ref_bleu).max()))
    t_rs = per_pair_us(lambda: rouge_score(hyps, refs), n)
    t_rl = per_pair_us(lambda: rouge_l_batch(hyps, refs), n, repeats=30)
    t_rl1 = per_pair_us(lambda: [rouge_l(h, r) for h, r in zip(hyps, refs, strict=True)], n)
    rows.append(("ROUGE-L F", t_rs, t_rl, t_rl1, np.abs(ours_rouge - ref_rouge).max()))
    print(f"\nsecondary: {n} real pairs over and over (caches warm); best of 5\n")
    print("| metric | reference | ours (batch) | speed-up | ours (one call per pair) | max abs delta |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ref_t, batch_t, single_t, delta in rows:
        print(f"| {name} | {ref_t:.1f} | {batch_t:.2f} | {ref_t / batch_t:.0f}x | {single_t:.1f} | {delta:.1e} |")
    stmt = ("from himed_rewards.metrics import sentence_bleu, rouge_l; "
            "sentence_bleu('a b c', ['a b d']); rouge_l('a b c', 'a b d')")
    empty, warm = cold_costs(stmt)
    print(f"\ncold cost (start, import + first BLEU and ROUGE-L call, CPU seconds): {empty:.2f} s "
          f"compiling into an empty numba cache, {warm:.2f} s with it warm")


if __name__ == "__main__":
    main()
