"""Offline clinical labeler and judge (no network, no model, standard library only).

* :func:`label_report` labels the 21 CheXpert / NIH ChestX-ray14 findings a report mentions
  as ``"positive"``, ``"negative"`` or ``"uncertain"``.
* :class:`OfflineClinicalJudge` turns the labels of a candidate and a reference into the
  accuracy / relevance / completeness verdict of the semantic reward.
* :func:`polarity_at` tells whether one mention in a text is negated or hedged.

Examples:
    >>> from himed_rewards.clinical import label_report
    >>> label_report("No pneumothorax. Small right pleural effusion.")
    {'pneumothorax': 'negative', 'pleural_effusion': 'positive'}
"""

from himed_rewards.clinical.judge import OfflineClinicalJudge, judge_labels
from himed_rewards.clinical.labeler import FINDINGS, PATHOLOGIES, label_report
from himed_rewards.clinical.negation import POLARITIES, polarity_at

__all__ = [
    "FINDINGS",
    "PATHOLOGIES",
    "POLARITIES",
    "OfflineClinicalJudge",
    "judge_labels",
    "label_report",
    "polarity_at",
]
