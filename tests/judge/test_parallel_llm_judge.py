"""ParallelScorer with the LLM judge: the judge stays in the calling process (one batch of
requests to the server) while two processes compute the other levels; the breakdowns equal
score_batch's, sync and async, at a step where both levels weigh."""

from __future__ import annotations

import asyncio

from himed_rewards import ParallelScorer, RewardConfig, score_batch
from himed_rewards.judge import LLMJudge


def test_llm_judge_runs_in_the_caller_and_the_result_equals_score_batch(llm_server):
    judge = LLMJudge(llm_server.url, "m", timeout=5.0, use_cache=False)
    config = RewardConfig(semantic=judge)
    completions = [f"<think>x</think><finding>Small effusion {i}.</finding>"
                   "<impression>Effusion.</impression>" for i in range(24)]
    references = ["Small left effusion."] * 12 + ["No effusion."] * 12
    try:
        with ParallelScorer(workers=2, config=config, min_pairs=8) as scorer:
            assert scorer._worker_config.semantic is None  # the workers never see the judge
            got = scorer.score_batch(completions, references, step=5_000)
            requests = len(llm_server.requests)
            assert requests == 24  # one request per pair, all from this process
            again = asyncio.run(scorer.ascore_batch(completions, references, step=5_000))
        want = score_batch(completions, references, step=5_000, config=config)
    finally:
        judge.close()
    assert got == again == want
    assert got[0].semantic == want[0].semantic is not None and got[0].alpha2 == 0.5


def test_default_min_pairs_follows_what_the_workers_compute(llm_server):
    """Workers that run the offline judge pay from MIN_PAIRS; workers that compute the
    low-level reward alone (semantic off, or an LLM judge kept in the caller) from
    MIN_PAIRS_LOW_LEVEL; an explicit value wins."""
    from himed_rewards.rewards.parallel import MIN_PAIRS, MIN_PAIRS_LOW_LEVEL

    judge = LLMJudge(llm_server.url, "m", timeout=5.0, use_cache=False)
    try:
        cases = [(None, MIN_PAIRS), (RewardConfig(semantic=None), MIN_PAIRS_LOW_LEVEL),
                 (RewardConfig(semantic=judge), MIN_PAIRS_LOW_LEVEL)]
        for config, expected in cases:
            with ParallelScorer(workers=1, config=config) as scorer:
                assert scorer.min_pairs == expected
        with ParallelScorer(workers=1, config=RewardConfig(semantic=None), min_pairs=64) as s:
            assert s.min_pairs == 64
    finally:
        judge.close()
    assert MIN_PAIRS < MIN_PAIRS_LOW_LEVEL
