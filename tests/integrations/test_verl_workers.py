"""verl's batch reward with ``reward_kwargs.workers``: the same rows as one process, from a
ParallelScorer kept per (config, workers) in the reward worker process."""

from __future__ import annotations

import pytest

from himed_rewards.integrations import _common, verl


def test_workers_give_the_same_rows_and_one_scorer_per_config(iu_pairs):
    preds, refs = zip(*iu_pairs, strict=True)
    preds = [p for p in preds for _ in range(8)]  # 24 references x 8 = 192 >= MIN_PAIRS
    refs = [r for r in refs for _ in range(8)]
    infos = [{"global_step": 6000}] * len(preds)
    want = verl.compute_score_batch(["iu"] * len(preds), preds, refs, infos)
    try:
        got = verl.compute_score_batch(["iu"] * len(preds), preds, refs, infos, workers=2)
        again = verl.compute_score_batch(["iu"] * len(preds), preds, refs, infos, workers=2)
        [scorer] = [s for key, s in _common._SCORERS.items() if key[1] == 2]
        assert scorer.last_stats.pairs == len(preds)
    finally:
        for scorer in _common._SCORERS.values():
            scorer.close()
        _common._SCORERS.clear()
    assert got == again == want  # every value compared with ==


@pytest.mark.parametrize("workers", [0, "2", 1.5, True])
def test_bad_workers_are_named(workers):
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        verl.compute_score_batch(["iu"], ["No effusion."], ["No effusion."],
                                 [{"global_step": 1}], workers=workers)
