"""Odd completions and generated reports for the offline judge's front doors from a parse
(``rewards.offline_scores`` in one process, ``rewards.judge_request`` in its helper): what
each must hand to the interpreter, or leave out of the parse's buffer; and what their tests
share (the judge, scores as bits)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from himed_rewards.clinical.encoded import use_judge_kernel
from himed_rewards.clinical.judge import OfflineClinicalJudge


def offline_judge() -> OfflineClinicalJudge:
    """An offline judge, its kernel compiled."""
    use_judge_kernel()
    return OfflineClinicalJudge()


def bits(scores: np.ndarray) -> list[list[str]]:
    """Every score as its float's bits (== would let -0.0 pass for 0.0)."""
    return [[float(x).hex() for x in row] for row in scores]


# What the fast path must hand to the interpreter, or leave out of the parse's buffer:
# non-ASCII text, a malformed completion, sentence breaks other than ".", a finding with no
# final ".", a ": no" trigger, case and whitespace to strip, a non-ASCII reference.
ODD = [
    ("<think>x</think><finding>Épanchement: no. Heart normal</finding><impression>OK</impression>",
     "Small effusion."),
    ("no tags at all. Effusion.", "Épanchement pleural."),
    ("<think>x</think><finding>Left effusion; small</finding><impression>Effusion!</impression>",
     "Left effusion."),
    ("<think>x</think><finding>  Lungs CLEAR  </finding>\n<impression> no effusion. </impression>",
     "Lungs: clear."),
    ("<think>x</think><finding>Pneumothorax: no.</finding><impression>Normal.</impression>",
     "No pneumothorax."),
    ("<think>x</think><finding>Nodule measuring 2.5 cm. Size 1.2.3</finding>"
     "<impression>Nodule?</impression>", "Nodule measuring 2.5 cm."),
]


# Generated reports: clinical words, numbers, case, every sentence break and whitespace kind,
# now and then a non-ASCII letter; completions well formed or not, with the tags' spacing.
PIECES = st.sampled_from([
    "No", "no", "LEFT", "right", "pleural", "effusion", "Effusions", "pneumothorax", "heart",
    "size", "normal", "mild", "cardiomegaly", "measuring", "2.5", "1.2.3", "cm", "stable",
    "lungs", "clear", "opacity", "base", "not", "seen", "without", "é", ".", ". ", ":", ";",
    "!", "?", ",", " ", "  ", "\n", "\t",
])
TEXT = st.lists(PIECES, max_size=14).map(" ".join)
COMPLETION = st.one_of(
    st.tuples(TEXT, TEXT, st.sampled_from(["", " ", "\n"])).map(
        lambda t: f"<think>x</think>{t[2]}<finding>{t[0]}</finding>{t[2]}"
                  f"<impression>{t[1]}</impression>"),
    TEXT,
)
