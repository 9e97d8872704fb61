"""R2Gen's report cleaning, so that ``--convention r2gen`` prints the numbers papers print.

R2Gen (Chen et al., EMNLP 2020; zhjohnchan/R2Gen ``modules/tokenizers.py``) cleans every
report before training and evaluation, and the papers that follow it compare numbers computed
on cleaned text. The cleaning, re-implemented here from its description:

1. collapse runs of dots (``..`` -> ``.``, a fixed number of passes) and drop list numbering
   (``1. ``, ``2. `` ... ``5. ``); the MIMIC-CXR variant first turns newlines into spaces and
   squeezes runs of ``_`` and of spaces (again a fixed number of passes);
2. strip, lowercase, split into sentences on ``". "``;
3. in each sentence delete quotes, slashes and backslashes, strip, lowercase, then delete the
   characters of R2Gen's character class. That class is written ``[.,?;*!%^&_+():-\\[\\]{}]``,
   in which ``:-\\[`` is a *range*: it also deletes ``< = > ? @``, ``A-Z`` and ``[``;
4. join the sentences with ``" . "`` and end with ``" ."``. Empty sentences are kept (R2Gen's
   filter compares a string with a list, which never matches), so ``"a. . b"`` keeps a gap.

What R2Gen does after cleaning (mapping words seen fewer than 3 times in training to
``<unk>``, truncating to 60 tokens) depends on its training vocabulary and is not applied.
"""

from __future__ import annotations

__all__ = ["clean_report_iu_xray", "clean_report_mimic_cxr", "R2GEN_CLEANERS"]

# Deleted before stripping a sentence: double and single quotes, slash, backslash.
_QUOTES_SLASHES = str.maketrans("", "", "\"'/\\")
# R2Gen's character class, with its ':'..'[' range spelled out (see the module docstring).
_PUNCTUATION = ".,?*!%^&_+(){}]" + "".join(chr(c) for c in range(ord(":"), ord("[") + 1))
_DELETED = str.maketrans("", "", _PUNCTUATION)
# List numbering, replaced in this order (the order matters: "1. " goes first everywhere).
_NUMBERING = (("1. ", ""),) + tuple((f". {k}. ", ". ") for k in range(2, 6)) + tuple(
    (f" {k}. ", ". ") for k in range(2, 6))


def _squeeze(text: str, pair: str, passes: int) -> str:
    """``passes`` rounds of replacing ``pair`` (two equal characters) by one character."""
    for _ in range(passes):
        text = text.replace(pair, pair[0])
    return text


def _sentences_to_report(text: str) -> str:
    for old, new in _NUMBERING:
        text = text.replace(old, new)
    sentences = text.strip().lower().split(". ")
    cleaned = [s.translate(_QUOTES_SLASHES).strip().lower().translate(_DELETED)
               for s in sentences]
    return " . ".join(cleaned) + " ."


def _check(report: object) -> str:
    if not isinstance(report, str):
        raise TypeError(f"report must be str, got {type(report).__name__}")
    return report


def clean_report_iu_xray(report: str) -> str:
    """R2Gen's IU X-ray cleaning: lowercase sentences of words joined by ``" . "``.

    Args:
        report: one report as written.

    Returns:
        The cleaned report, as R2Gen trains and evaluates on it.

    Examples:
        >>> clean_report_iu_xray("1. Heart size is normal. 2. No effusion (left)...")
        'heart size is normal . no effusion left .'
    """
    return _sentences_to_report(_squeeze(_check(report), "..", 3))


def clean_report_mimic_cxr(report: str) -> str:
    """R2Gen's MIMIC-CXR cleaning: as IU X-ray, after joining lines and squeezing ``_``/spaces.

    Args:
        report: one report as written (newlines allowed).

    Returns:
        The cleaned report.

    Examples:
        >>> clean_report_mimic_cxr("FINDINGS: ___ lungs\\nare clear.. No pneumothorax.")
        'findings  lungs are clear . no pneumothorax .'
    """
    text = _check(report).replace("\n", " ")
    text = _squeeze(_squeeze(text, "__", 7), "  ", 6)
    return _sentences_to_report(_squeeze(text, "..", 8))


#: Dataset name -> cleaner (R2Gen picks the IU X-ray cleaner for ``iu_xray``, else MIMIC-CXR).
R2GEN_CLEANERS = {"iu_xray": clean_report_iu_xray, "mimic_cxr": clean_report_mimic_cxr}
