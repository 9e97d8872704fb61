"""Human names and units of the metrics and reward levels that appear in plots."""

from __future__ import annotations

__all__ = ["metric_label", "METRIC_LABELS", "LEVEL_LABELS"]

#: eval score key -> (title, axis label with range / unit)
METRIC_LABELS = {
    "bleu1": ("BLEU-1", "score (0-1)"),
    "bleu2": ("BLEU-2", "score (0-1)"),
    "bleu3": ("BLEU-3", "score (0-1)"),
    "bleu4": ("BLEU-4", "score (0-1)"),
    "cxr_bleu2": ("BLEU-2 (CXR-Report-Metric)", "score (0-1)"),
    "rougeL": ("ROUGE-L F1", "score (0-1)"),
    "rouge_l": ("ROUGE-L F1", "score (0-1)"),
    "rouge1": ("ROUGE-1 F1", "score (0-1)"),
    "rouge2": ("ROUGE-2 F1", "score (0-1)"),
    "meteor": ("METEOR", "score (0-1)"),
    "meteor_seg": ("METEOR 1.5 (per segment)", "score (0-1)"),
    "sem_accuracy": ("Semantic accuracy", "judge score (0-1)"),
    "sem_relevance": ("Semantic relevance", "judge score (0-1)"),
    "sem_completeness": ("Semantic completeness", "judge score (0-1)"),
    "himed_low_level": ("HiMed low-level reward", "reward"),
    "himed": ("HiMed total reward", "reward"),
    "ratescore": ("RaTEScore", "score (0-1)"),
}

#: reward level -> (panel title, y-axis label with range)
LEVEL_LABELS = {
    "token": ("Token level (BLEU-4)", "reward (0-1)"),
    "concept": ("Concept level (ROUGE-L + METEOR + bonus)", "reward"),
    "format": ("Format", "reward (-1 or +1)"),
    "low_level": ("Low level (token + concept + format)", "reward"),
    "semantic": ("Semantic level (judge)", "reward"),
    "total": ("Total reward", "reward"),
    "alpha": ("Schedule weights", "weight (0-1)"),
}


def metric_label(key: str) -> tuple[str, str]:
    """``(title, axis label)`` for an eval score key; unknown keys keep their name.

    Args:
        key: a per-sample score key (``rougeL``, ``himed``, ...).

    Returns:
        Title and x-axis label.

    Examples:
        >>> metric_label("rougeL")
        ('ROUGE-L F1', 'score (0-1)')
        >>> metric_label("my_metric")
        ('my_metric', 'score')
    """
    return METRIC_LABELS.get(key, (key, "score"))
