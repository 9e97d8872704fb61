"""Evaluator: chosen metrics, corpus values equal evaluate()'s, per-sample values equal the
reference libraries; metric reward functions in TRL's calling convention."""

from __future__ import annotations

import pickle

import pytest

from himed_rewards.evaluation import (
    Evaluator,
    available_metrics,
    compute_statistics,
    evaluate,
    metric_reward_functions,
)

METRICS = ["bleu4", "rougeL", "meteor", "rouge2", "f1_micro", "sem_accuracy", "himed"]


@pytest.fixture(scope="module")
def pairs(request):
    ids, preds, refs = request.getfixturevalue("iu_eval")
    return preds[:80], refs[:80]


def test_corpus_values_equal_evaluate(pairs):
    preds, refs = pairs
    result = Evaluator(METRICS)(preds, refs)
    table = evaluate({"m": preds}, refs, n_resamples=10).scores["m"]
    for name in METRICS:
        assert result.corpus[name] == pytest.approx(table[name].value, abs=1e-12), name
    assert list(result.per_sample) == METRICS
    assert all(len(v) == 80 for v in result.per_sample.values())


def test_per_sample_values_equal_reference_libraries(pairs):
    sacrebleu = pytest.importorskip("sacrebleu")
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    preds, refs = pairs
    result = Evaluator(["bleu4", "rougeL"])(preds, refs)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    for j, (h, r) in enumerate(zip(preds, refs, strict=True)):
        # one segment scored with the corpus formula (sacrebleu's corpus_bleu, exp smoothing)
        assert result.per_sample["bleu4"][j] == pytest.approx(
            sacrebleu.corpus_bleu([h], [[r]]).score / 100, abs=1e-12)
        assert result.per_sample["rougeL"][j] == pytest.approx(
            scorer.score(r, h)["rougeL"].fmeasure, abs=1e-12)


def test_only_the_needed_stages_run(pairs):
    preds, refs = pairs
    stages: list[str] = []
    stats = compute_statistics(preds, refs, only={"rougeL"}, on_stage=stages.append)
    assert stages == ["ROUGE-L"] and set(stats.metrics) == {"rougeL"}
    with pytest.raises(ValueError, match="unknown metrics"):
        compute_statistics(preds, refs, only={"bleu5"})


def test_records_and_bad_metric_names(pairs):
    preds, refs = pairs
    result = Evaluator(["rougeL"])(preds[:2], refs[:2])
    assert [sorted(r) for r in result.records(["a", "b"])] == [["id", "rougeL"]] * 2
    with pytest.raises(ValueError, match="not available under convention 'cxr-metric'"):
        Evaluator(["bleu4"], convention="cxr-metric")
    with pytest.raises(TypeError, match="metrics"):
        Evaluator("bleu4")
    assert "cxr_bleu2" in available_metrics("cxr-metric")
    assert "meteor_seg" in available_metrics("r2gen")


def test_metric_rewards_follow_trl_calling_convention(pairs):
    preds, refs = pairs
    bleu, rouge, f1 = metric_reward_functions(["bleu4", "rougeL", "f1_micro"])
    assert [f.__name__ for f in (bleu, rouge, f1)] == ["bleu4", "rougeL", "f1_micro"]
    completions = [[{"role": "assistant",
                     "content": f"<think>reasoning</think><finding>{p}</finding>"}]
                   for p in preds[:8]]
    # TRL passes every dataset column and its own extras as keyword arguments.
    kwargs = dict(prompts=["describe"] * 8, completions=completions,
                  completion_ids=[[1]] * 8, reference=refs[:8], trainer_state=None,
                  log_metric=lambda *a: None, log_extra=lambda *a: None)
    expected = Evaluator(["bleu4", "rougeL", "f1_micro"])(preds[:8], refs[:8]).per_sample
    assert rouge(**kwargs) == expected["rougeL"]
    assert bleu(**kwargs) == expected["bleu4"]
    assert f1(**kwargs) == expected["f1_micro"]
    restored = pickle.loads(pickle.dumps(rouge))  # TRL pickles rewards for its workers
    assert restored(**kwargs) == expected["rougeL"]


def test_metric_rewards_reject_bad_setup():
    with pytest.raises(ValueError, match="cannot be reward functions"):
        metric_reward_functions(["himed"])
    (rouge,) = metric_reward_functions(["rougeL"], reference_column="report")
    with pytest.raises(ValueError, match="missing dataset column 'report'"):
        rouge(completions=["x"], reference=["x"])


def test_coco_meteor_per_sample_is_the_jar_segment_score(pairs):
    import shutil

    if shutil.which("java") is None:
        pytest.skip("no Java: pycocoevalcap's METEOR 1.5 jar cannot run")
    preds, refs = pairs
    result = Evaluator(["meteor"], convention="r2gen")(preds[:10], refs[:10])
    stats = compute_statistics(preds[:10], refs[:10], convention="r2gen",
                               only={"meteor", "meteor_seg"})
    assert result.corpus["meteor"] == stats.metrics["meteor"].value()  # the jar's corpus score
    assert result.per_sample["meteor"] == stats.per_sample["meteor_seg"]


def test_cxr_metric_reward_equals_published_scorer(pairs):
    from himed_rewards.evaluation import cxr_metric_bleu

    preds, refs = pairs
    (reward,) = metric_reward_functions(["cxr_bleu2"], convention="cxr-metric")
    assert reward(completions=preds[:20], reference=refs[:20]) == pytest.approx(
        cxr_metric_bleu(preds[:20], refs[:20]).tolist(), abs=1e-15)
