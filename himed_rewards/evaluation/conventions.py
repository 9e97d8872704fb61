"""Named evaluation conventions: which implementation and which text each metric sees.

Papers disagree on tokenisation and cleaning far more than on metric definitions, and the
printed numbers move by a third (BLEU-4 0.095 under ``coco`` against 0.159 under ``r2gen`` on
the same IU X-ray outputs). Each convention below names one published recipe; tables and the
reproducibility signature state which one produced them.

========================  ==================================================================
``default``               sacrebleu BLEU (13a, exp smoothing), rouge-score ROUGE, nltk METEOR
``coco``                  pycocoevalcap ``Bleu(4)``, ``Rouge``, ``Meteor`` (1.5 jar) on the
                          texts as given
``r2gen``                 R2Gen's IU X-ray cleaning, then ``coco`` (R2Gen and its successors)
``r2gen-mimic``           R2Gen's MIMIC-CXR cleaning, then ``coco``
``cxr-metric``            CXR-Report-Metric's per-report BLEU-2 (mean), else ``default``
========================  ==================================================================

Cleaning applies to the n-gram metrics (BLEU, ROUGE, METEOR) only; clinical F1, the semantic
axes and the HiMed reward always read the reports as given (cleaning would delete the
``<finding>`` tags the format reward checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from himed_rewards.evaluation.cleaning import clean_report_iu_xray, clean_report_mimic_cxr

__all__ = ["Convention", "CONVENTIONS", "get_convention"]


@dataclass(frozen=True)
class Convention:
    """One named recipe: implementation family, optional cleaning, and a one-line summary."""

    name: str
    family: str  # "default" (sacrebleu / rouge-score / nltk) or "coco" (pycocoevalcap)
    clean: Callable[[str], str] | None
    summary: str
    cxr_bleu: bool = False  # BLEU columns replaced by CXR-Report-Metric's per-report BLEU-2


_ALL = (
    Convention("default", "default", None,
               "sacrebleu BLEU (13a), rouge-score ROUGE, nltk METEOR"),
    Convention("coco", "coco", None,
               "pycocoevalcap Bleu/Rouge/METEOR 1.5 on the texts as given"),
    Convention("r2gen", "coco", clean_report_iu_xray,
               "R2Gen IU X-ray cleaning, then pycocoevalcap, as R2Gen-style papers"),
    Convention("r2gen-mimic", "coco", clean_report_mimic_cxr,
               "R2Gen MIMIC-CXR cleaning, then pycocoevalcap"),
    Convention("cxr-metric", "default", None,
               "CXR-Report-Metric BLEU-2, mean of per-report scores; other metrics as default",
               cxr_bleu=True),
)

#: Names of every convention, in the order the CLI lists them.
CONVENTIONS = tuple(c.name for c in _ALL)
_BY_NAME = {c.name: c for c in _ALL}


def get_convention(name: str) -> Convention:
    """The convention called ``name``.

    Args:
        name: one of :data:`CONVENTIONS`.

    Returns:
        Its :class:`Convention`.

    Raises:
        ValueError: ``name`` is not a convention.

    Examples:
        >>> c = get_convention("r2gen")
        >>> c.family, c.clean("The heart is normal. No effusion.")
        ('coco', 'the heart is normal . no effusion .')
    """
    if name not in _BY_NAME:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {name!r}")
    return _BY_NAME[name]
