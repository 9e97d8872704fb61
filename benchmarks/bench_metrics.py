"""BLEU and ROUGE-L against sacrebleu and rouge-score on the 590 real IU X-ray pairs.

Prints per-pair microseconds (best of 5, warm), the speed-up, the max |ours - reference|, and
the cold cost (fresh interpreter: import + first call, with an empty and a warm numba cache).
"""

from __future__ import annotations

import numpy as np
import sacrebleu
from _common import cold_costs, pairs, per_pair_us
from rouge_score.rouge_scorer import RougeScorer

from himed_rewards.metrics import rouge_l_batch, sentence_bleu, sentence_bleu_batch


def main() -> None:
    hyps, refs = pairs()
    n = len(hyps)
    scorer = RougeScorer(["rougeL"])
    ref_bleu = [sacrebleu.sentence_bleu(h, [r]).score / 100 for h, r in zip(hyps, refs, strict=True)]
    ref_rouge = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs, strict=True)]
    ours_bleu = sentence_bleu_batch(hyps, refs)
    ours_rouge = rouge_l_batch(hyps, refs).fmeasure
    rows = []
    t_sacre = per_pair_us(lambda: [sacrebleu.sentence_bleu(h, [r]) for h, r in zip(hyps, refs, strict=True)], n)
    t_bleu = per_pair_us(lambda: sentence_bleu_batch(hyps, refs), n, repeats=30)
    t_bleu1 = per_pair_us(lambda: [sentence_bleu(h, r) for h, r in zip(hyps, refs, strict=True)], n)
    rows.append(("sentence BLEU", t_sacre, t_bleu, t_bleu1, np.abs(ours_bleu - ref_bleu).max()))
    t_rs = per_pair_us(lambda: [scorer.score(r, h) for h, r in zip(hyps, refs, strict=True)], n)
    t_rl = per_pair_us(lambda: rouge_l_batch(hyps, refs), n, repeats=30)
    from himed_rewards.metrics import rouge_l

    t_rl1 = per_pair_us(lambda: [rouge_l(h, r) for h, r in zip(hyps, refs, strict=True)], n)
    rows.append(("ROUGE-L F", t_rs, t_rl, t_rl1, np.abs(ours_rouge - ref_rouge).max()))
    print(f"{n} real pairs; microseconds per pair, best of 5, warm\n")
    print("| metric | reference | ours (batch) | speed-up | ours (one call per pair) | max abs delta |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ref_t, batch_t, single_t, delta in rows:
        print(f"| {name} | {ref_t:.1f} | {batch_t:.2f} | {ref_t / batch_t:.0f}x | {single_t:.1f} | {delta:.1e} |")
    stmt = ("from himed_rewards.metrics import sentence_bleu, rouge_l; "
            "sentence_bleu('a b c', ['a b d']); rouge_l('a b c', 'a b d')")
    empty, warm = cold_costs(stmt)
    print(f"\ncold cost (import + first BLEU and ROUGE-L call): {empty:.2f} s with an empty numba "
          f"cache, {warm:.2f} s with a warm cache")


if __name__ == "__main__":
    main()
