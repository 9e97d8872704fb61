"""Corpus evaluation as report-generation papers print it, with intervals and significance.

:func:`evaluate` scores systems on the same references (BLEU-1..4, ROUGE-1/2/L, METEOR,
CheXpert-14 clinical F1, the semantic axes and the HiMed reward, optionally RaTEScore),
computing per-sample statistics once and reusing them for paired bootstrap 95% intervals
and paired significance tests; :mod:`~himed_rewards.evaluation.tables` lays the result out
as the paper's Table 3 and :mod:`~himed_rewards.evaluation.signature` records how.
:class:`Evaluator` is the one-call form (chosen metrics, corpus and per-sample scores) and
:func:`metric_reward_functions` turns metrics into TRL reward functions.

Examples:
    >>> from himed_rewards.evaluation import evaluate, to_markdown
    >>> refs = ["No acute disease.", "Small left pleural effusion."]
    >>> r = evaluate({"model": ["No acute disease.", "Left effusion."]}, refs, n_resamples=50)
    >>> round(r.scores["model"]["f1_micro"].value, 3)
    1.0
"""

from himed_rewards.evaluation.bertscore import (
    BERTSCORE_MODEL,
    BertScoreUnavailable,
    load_bertscore,
)
from himed_rewards.evaluation.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_weights,
    confidence_interval,
)
from himed_rewards.evaluation.chexbert import (
    CHEXBERT_CONDITIONS,
    ChexbertUnavailable,
    chexbert_counts,
    load_chexbert,
)
from himed_rewards.evaluation.chexpert import (
    CHEXPERT14,
    chexpert_counts,
    chexpert_present,
    macro_f1,
    micro_f1,
)
from himed_rewards.evaluation.cleaning import clean_report_iu_xray, clean_report_mimic_cxr
from himed_rewards.evaluation.conventions import Convention, get_convention
from himed_rewards.evaluation.cxr_metric import cxr_metric_bleu
from himed_rewards.evaluation.evaluate import EvaluationResult, MetricResult, evaluate
from himed_rewards.evaluation.evaluator import Evaluator, EvaluatorResult, available_metrics
from himed_rewards.evaluation.green import (
    GREEN_MODEL,
    GreenAssessment,
    GreenUnavailable,
    load_green,
    parse_green,
)
from himed_rewards.evaluation.metric_rewards import MetricReward, metric_reward_functions
from himed_rewards.evaluation.radgraph import (
    RADGRAPH_MODELS,
    RadgraphF1,
    RadgraphUnavailable,
    load_radgraph,
    radgraph_f1,
    radgraph_f1_batch,
)
from himed_rewards.evaluation.ratescore import (
    RATESCORE_MODELS,
    RatescoreUnavailable,
    load_ratescore,
)
from himed_rewards.evaluation.signature import evaluation_signature, package_versions
from himed_rewards.evaluation.significance import TESTS, paired_p_value, randomization_masks
from himed_rewards.evaluation.statistics import (
    CONVENTIONS,
    METRIC_KEYS,
    Metric,
    SystemStatistics,
    compute_statistics,
)
from himed_rewards.evaluation.steps import final_step, resolve_step
from himed_rewards.evaluation.tables import format_cell, to_csv, to_markdown

__all__ = [
    "BERTSCORE_MODEL", "BertScoreUnavailable", "load_bertscore", "CHEXBERT_CONDITIONS",
    "ChexbertUnavailable", "chexbert_counts", "load_chexbert", "CHEXPERT14", "CONVENTIONS", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "METRIC_KEYS",
    "RATESCORE_MODELS", "TESTS", "Convention", "EvaluationResult", "Evaluator",
    "EvaluatorResult", "Metric", "MetricResult", "MetricReward", "RatescoreUnavailable",
    "SystemStatistics", "available_metrics", "bootstrap_weights", "chexpert_counts",
    "chexpert_present", "clean_report_iu_xray", "clean_report_mimic_cxr", "compute_statistics",
    "confidence_interval", "cxr_metric_bleu", "evaluate", "evaluation_signature", "final_step",
    "format_cell", "get_convention", "load_ratescore", "macro_f1", "metric_reward_functions",
    "micro_f1", "package_versions", "paired_p_value", "randomization_masks", "resolve_step",
    "to_csv", "to_markdown", "RADGRAPH_MODELS", "RadgraphF1", "RadgraphUnavailable",
    "load_radgraph", "radgraph_f1", "radgraph_f1_batch",
    "GREEN_MODEL", "GreenAssessment", "GreenUnavailable", "load_green", "parse_green",
]  # fmt: skip
