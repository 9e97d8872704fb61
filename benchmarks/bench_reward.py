"""The whole low-level reward (semantic off) against sacrebleu + rouge-score + nltk METEOR.

The reference cost is what a user pays today for the same three metrics per pair. Also shows
the reward with the default offline clinical judge, a GRPO-shaped batch (G=16 completions per
reference, 512 pairs), and the cold cost of ``warmup()``.
"""

from __future__ import annotations

import sacrebleu
from _common import cold_costs, pairs, per_pair_us
from rouge_score.rouge_scorer import RougeScorer

from himed_rewards import RewardConfig, score_batch, warmup


def main() -> None:
    hyps, refs = pairs()
    n = len(hyps)
    warmup()
    rows = []
    scorer = RougeScorer(["rougeL"])
    try:
        from nltk.translate.meteor_score import meteor_score

        meteor_score([["a"]], ["a"])
        have_nltk = True
    except LookupError:
        have_nltk = False
    if have_nltk:
        def reference() -> None:
            for h, r in zip(hyps, refs, strict=True):
                sacrebleu.sentence_bleu(h, [r])
                scorer.score(r, h)
                meteor_score([r.split()], h.split())

        t_ref = per_pair_us(reference, n, repeats=3)
    else:
        t_ref = float("nan")
        print("nltk WordNet not found (run .ci/setup_wordnet.sh and export NLTK_DATA)")
    off = RewardConfig(semantic=None)
    completions = [f"<think>x</think><finding>{h}</finding><impression>-</impression>" for h in hyps]
    t_off = per_pair_us(lambda: score_batch(completions, refs, config=off), n)
    t_on = per_pair_us(lambda: score_batch(completions, refs), n)
    group_c = [completions[i % n] for i in range(512)]
    group_r = [refs[(i // 16) % n] for i in range(512)]
    t_grpo = per_pair_us(lambda: score_batch(group_c, group_r, config=off), 512)
    rows += [("score_batch, semantic off", t_off), ("score_batch, offline clinical judge", t_on),
             ("score_batch, GRPO batch 512 = 32 refs x G 16, semantic off", t_grpo)]
    print(f"{n} real pairs; microseconds per pair, best of 5, warm\n")
    print(f"reference: sacrebleu + rouge-score + nltk METEOR = {t_ref:.0f} us per pair\n")
    print("| ours | us per pair | speed-up vs reference |")
    print("|---|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.1f} | {t_ref / t:.0f}x |")
    stmt = "import himed_rewards as hr; hr.warmup()"
    empty, warm = cold_costs(stmt)
    print(f"\ncold cost (import + warmup()): {empty:.2f} s with an empty numba cache, "
          f"{warm:.2f} s with a warm cache")


if __name__ == "__main__":
    main()
