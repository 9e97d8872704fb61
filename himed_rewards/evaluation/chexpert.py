"""Clinical F1 over the 14 CheXpert observations, from the offline labeler.

Each report is labelled by :func:`~himed_rewards.clinical.label_report` (21 findings) and
mapped onto the 14 CheXpert observations:

* an observation is **present** when its label is ``"positive"``; ``"uncertain"`` and
  ``"negative"`` count as absent (the common choice of CheXbert-style clinical F1, where
  uncertain is mapped to negative);
* ``lung_lesion`` also takes ``mass`` and ``nodule``, ``lung_opacity`` also takes
  ``infiltration`` (CheXpert's definitions of those observations);
* ``no_finding`` follows CheXpert's rule: present when no pathology (any of the labeler's
  findings except ``support_devices``) is positive or uncertain.

Per sample we keep true positives, false positives and false negatives per observation
(``(n, 14, 3)``), so corpus F1 over any resample is a function of summed counts. **Micro**
F1 pools the counts of the 14 observations; **macro** F1 averages the per-observation F1
over the observations that occur (TP + FP + FN > 0) in the (re)sampled corpus: an
observation neither report set mentions has no F1 and is left out rather than counted as 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from himed_rewards.clinical import PATHOLOGIES, label_report

__all__ = ["CHEXPERT14", "chexpert_present", "chexpert_counts", "micro_f1", "macro_f1"]

#: The 14 CheXpert observations, in CheXpert's order.
CHEXPERT14 = (
    "no_finding", "enlarged_cardiomediastinum", "cardiomegaly", "lung_opacity", "lung_lesion",
    "edema", "consolidation", "pneumonia", "atelectasis", "pneumothorax", "pleural_effusion",
    "pleural_other", "fracture", "support_devices",
)  # fmt: skip

_FOLDED = {"lung_lesion": ("lung_lesion", "mass", "nodule"),
           "lung_opacity": ("lung_opacity", "infiltration")}


def chexpert_present(report: str) -> np.ndarray:
    """Boolean vector over :data:`CHEXPERT14`: is each observation positive in ``report``.

    Examples:
        >>> v = chexpert_present("Mild cardiomegaly. No pneumothorax.")
        >>> [name for name, on in zip(CHEXPERT14, v) if on]
        ['cardiomegaly']
        >>> [name for name, on in zip(CHEXPERT14, chexpert_present("Lungs are clear.")) if on]
        ['no_finding']
    """
    if not isinstance(report, str):
        raise TypeError(f"report must be str, got {type(report).__name__}")
    labels = label_report(report)
    out = np.zeros(len(CHEXPERT14), dtype=bool)
    for k, name in enumerate(CHEXPERT14):
        if name == "no_finding":
            out[k] = not any(labels.get(f) in ("positive", "uncertain") for f in PATHOLOGIES)
        else:
            out[k] = any(labels.get(f) == "positive" for f in _FOLDED.get(name, (name,)))
    return out


def chexpert_counts(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-sample TP, FP, FN for every observation: an ``int64`` array ``(n, 14, 3)``.

    Examples:
        >>> c = chexpert_counts(["Cardiomegaly."], ["Cardiomegaly and small effusion."])
        >>> c.sum(axis=(0, 1)).tolist()  # TP, FP, FN
        [1, 0, 1]
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"hypotheses and references must have the same length, got "
                         f"{len(hypotheses)} and {len(references)}")
    hyp = np.array([chexpert_present(h) for h in hypotheses], dtype=bool).reshape(-1, 14)
    ref = np.array([chexpert_present(r) for r in references], dtype=bool).reshape(-1, 14)
    return np.stack([hyp & ref, hyp & ~ref, ~hyp & ref], axis=-1).astype(np.int64)


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """Micro F1 of summed counts ``(..., 14, 3)`` -> ``(...)``; NaN where nothing occurs.

    Examples:
        >>> micro_f1(np.array([[[8, 1, 1], [1, 1, 0]]])).round(4).tolist()
        [0.8571]
    """
    tp, fp, fn = (counts[..., j].sum(-1).astype(np.float64) for j in range(3))
    denom = 2 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def macro_f1(counts: np.ndarray) -> np.ndarray:
    """Macro F1 of summed counts ``(..., 14, 3)`` over the observations that occur.

    Examples:
        >>> macro_f1(np.array([[[8, 1, 1], [1, 1, 0], [0, 0, 0]]])).round(4).tolist()
        [0.7778]
    """
    tp, fp, fn = (counts[..., j].astype(np.float64) for j in range(3))
    denom = 2 * tp + fp + fn
    occurs = denom > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(occurs, 2 * tp / denom, 0.0)
        return np.where(occurs.any(-1), per_class.sum(-1) / occurs.sum(-1), np.nan)
