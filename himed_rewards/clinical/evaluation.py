"""Validate the labeler against the OpenI / IU X-ray human gold standard (NegBio).

The gold file (``openi_gld_std14.csv``, public domain, from ncbi-nlp/NegBio) has one row per
report, ``filename`` = ``CXR<uid>``, and a 0/1 column per NIH finding plus ``normal``. It
only encodes presence: a finding the radiologist hedged ("atelectasis versus infiltrate")
is marked 1, so a label counts as *predicted present* when it is positive **or**
uncertain (``strict=False``, the default); ``strict=True`` counts positive labels only.

The reports file is IU X-ray's ``indiana_reports.csv`` (``uid``, ``findings``,
``impression``, ...; CC BY-NC-ND 4.0, so it is not shipped: pass its path).
"""

from __future__ import annotations

import csv
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GOLD_COLUMNS", "FindingScore", "RankingResult", "build_corruptions", "held_out",
    "load_iu_gold", "micro_f1", "ordering_accuracy", "run_radjudge", "score_labels",
]

#: Gold column -> canonical finding name (``normal`` is CheXpert's ``no_finding``).
GOLD_COLUMNS = {
    "Atelectasis": "atelectasis", "Cardiomegaly": "cardiomegaly", "Effusion": "pleural_effusion",
    "Infiltration": "infiltration", "Mass": "mass", "Nodule": "nodule",
    "Pneumonia": "pneumonia", "Pneumothorax": "pneumothorax", "Consolidation": "consolidation",
    "Edema": "edema", "Emphysema": "emphysema", "Fibrosis": "fibrosis",
    "Pleural_Thickening": "pleural_thickening", "Hernia": "hernia", "normal": "no_finding",
}  # fmt: skip


@dataclass(frozen=True)
class FindingScore:
    """Counts and scores of one finding (support = number of gold positives)."""

    finding: str
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        """None when nothing was predicted (undefined, not 0)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.support if self.support else None

    @property
    def f1(self) -> float | None:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else None


def load_iu_gold(
    reports_csv: str | Path, gold_csv: str | Path, *, split: str | None = None
) -> list[tuple[str, frozenset[str]]]:
    """``(findings + " " + impression, gold positive findings)`` for every gold report.

    ``split="held_out"`` keeps the fifth of reports chosen by :func:`held_out` (not to be
    used for tuning rules), ``split="tuning"`` the rest, ``None`` all of them.

    Examples:
        >>> from pathlib import Path
        >>> root = Path("tests/fixtures")
        >>> pairs = load_iu_gold(root / "iu_xray/indiana_reports.csv",
        ...                      root / "labels/openi_gld_std14.csv")  # doctest: +SKIP
        >>> len(pairs)  # doctest: +SKIP
        3851
    """
    with open(reports_csv, newline="", encoding="utf-8") as fh:
        reports = {row["uid"]: row for row in csv.DictReader(fh)}
    if split not in (None, "held_out", "tuning"):
        raise ValueError(f"split must be None, 'held_out' or 'tuning', got {split!r}")
    pairs = []
    with open(gold_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            uid = row["filename"].removeprefix("CXR")
            if split is not None and held_out(uid) != (split == "held_out"):
                continue
            if uid not in reports:
                raise ValueError(f"gold row {row['filename']!r} has no report uid {uid!r}")
            report = reports[uid]
            text = f"{report['findings'].strip()} {report['impression'].strip()}".strip()
            positives = frozenset(GOLD_COLUMNS[c] for c in GOLD_COLUMNS if row[c] == "1")
            pairs.append((text, positives))
    return pairs


def score_labels(
    pairs: Iterable[tuple[str, frozenset[str]]],
    labeler: Callable[[str], dict[str, str]],
    *,
    strict: bool = True,
) -> dict[str, FindingScore]:
    """Per-finding TP/FP/FN of ``labeler`` against gold positives, for every gold finding.

    Examples:
        >>> from himed_rewards.clinical import label_report
        >>> pairs = [("Mild cardiomegaly.", frozenset({"cardiomegaly"})),
        ...          ("No effusion.", frozenset({"pleural_effusion"}))]
        >>> s = score_labels(pairs, label_report)
        >>> s["cardiomegaly"].tp, s["pleural_effusion"].fn
        (1, 1)
    """
    present = {"positive"} if strict else {"positive", "uncertain"}
    counts = {f: [0, 0, 0] for f in GOLD_COLUMNS.values()}
    for text, gold in pairs:
        labels = labeler(text)
        for finding, c in counts.items():
            predicted = labels.get(finding) in present
            if predicted and finding in gold:
                c[0] += 1
            elif predicted:
                c[1] += 1
            elif finding in gold:
                c[2] += 1
    return {f: FindingScore(f, *c) for f, c in counts.items()}


def micro_f1(scores: Iterable[FindingScore]) -> float:
    """Micro-averaged F1 over the given findings (pool TP, FP, FN, then F1).

    Examples:
        >>> micro_f1([FindingScore("a", 8, 1, 1), FindingScore("b", 1, 1, 0)])
        0.8571428571428571
    """
    tp = fp = fn = 0
    for s in scores:
        tp, fp, fn = tp + s.tp, fp + s.fp, fn + s.fn
    if 2 * tp + fp + fn == 0:
        raise ValueError("micro_f1 needs at least one gold or predicted positive")
    return 2 * tp / (2 * tp + fp + fn)


@dataclass(frozen=True)
class RankingResult:
    """One RadJudge case: its id, category, whether it passed, and the scores."""

    case: str
    category: str
    passed: bool
    scores: dict[str, float]


def _comparison_holds(rule: str, scores: dict[str, float]) -> bool:
    left, op, right = rule.split()
    a, b = scores[left], scores[right]
    if op == ">":
        return a > b
    if op == "=":
        return abs(a - b) < 0.01
    raise ValueError(f"unknown comparison {op!r} in ranking rule {rule!r}")


def run_radjudge(
    cases: dict, score: Callable[[str, str], float]
) -> list[RankingResult]:
    """Run RadJudge ranking cases (CRIMSON's ``RANKING_TESTS`` as JSON) with ``score``.

    ``score(candidate, ground_truth)`` is higher-is-better. A case passes when every
    comparison of its ``expected_ranking`` holds: ``"A > B"`` means ``score(A) > score(B)``,
    ``"A = B"`` means ``|score(A) - score(B)| < 0.01`` (RadJudge's rule). Patient context
    (age, indication) is not passed to ``score``.

    Examples:
        >>> cases = {"categories": [{"category": "demo", "tests": [{"id": "1",
        ...     "ground_truth": "Cardiomegaly.", "expected_ranking": "C1 > C2",
        ...     "candidates": {"C1": {"text": "Cardiomegaly."}, "C2": {"text": "Clear."}}}]}]}
        >>> [r.passed for r in run_radjudge(cases, lambda c, g: float(c == g))]
        [True]
    """
    results = []
    for category in cases["categories"]:
        for test in category["tests"]:
            truth = test["ground_truth"]
            scores = {name: score(c["text"], truth) for name, c in test["candidates"].items()}
            rules = test["expected_ranking"]
            rules = [rules] if isinstance(rules, str) else rules
            passed = all(_comparison_holds(rule, scores) for rule in rules)
            results.append(RankingResult(test["id"], category["category"], passed, scores))
    return results


_SWAPS = {
    "laterality": {"left": "right", "right": "left"},
    "severity": {"mild": "severe", "mildly": "severely", "small": "large", "large": "small",
                 "minimal": "extensive", "moderate": "severe", "severe": "mild",
                 "trace": "large", "tiny": "large", "marked": "mild", "markedly": "mildly",
                 "extensive": "minimal"},
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z]+")
_NEGATION_WORDS = frozenset({"no", "not", "without", "negative", "free"})
_SENTENCE_SPLIT = re.compile(r"(?<=\.)\s+")


def build_corruptions(
    pairs: Iterable[tuple[str, frozenset[str]]],
    kind: str,
    describe: Callable[[str], dict[str, str]],
) -> list[tuple[str, str, str]]:
    """``(reference, harmless rewrite, corrupted copy)`` triples from gold-labelled reports.

    ``kind`` is ``"laterality"`` (left <-> right) or ``"severity"`` (mild <-> severe, small
    <-> large, ...). Only the first sentence that names a gold-positive finding (according to
    ``describe``, a labeler returning ``{finding: polarity}``), holds a swappable word and no
    negation word (no, not, without, negative, free) is corrupted, in every such word. The harmless rewrite reorders the sentences (last
    first): the same findings, other wording order.

    Examples:
        >>> from himed_rewards.clinical import label_report
        >>> build_corruptions([("Heart normal. Small left pleural effusion.",
        ...                     frozenset({"pleural_effusion"}))], "laterality", label_report)
        [('Heart normal. Small left pleural effusion.', \
'Small left pleural effusion. Heart normal.', 'Heart normal. Small right pleural effusion.')]
    """
    if kind not in _SWAPS:
        raise ValueError(f"kind must be one of {sorted(_SWAPS)}, got {kind!r}")
    swaps = _SWAPS[kind]
    triples = []
    for text, gold in pairs:
        sentences = _SENTENCE_SPLIT.split(text.strip())
        if len(sentences) < 2 or not gold:
            continue
        for k, sentence in enumerate(sentences):
            words = [w.lower() for w in _WORD.findall(sentence)]
            if _NEGATION_WORDS.intersection(words) or not swaps.keys() & set(words):
                continue  # "no large effusion": the swap would change a negated statement
            named = {f for f, p in describe(sentence).items() if p == "positive"}
            if not named & gold:
                continue
            corrupted = _WORD.sub(lambda m: _swap(m.group(), swaps), sentence)
            last = sentences[-1] if sentences[-1].endswith((".", "!", "?")) else sentences[-1] + "."
            rewritten = " ".join([last] + sentences[:-1])
            triples.append((text, rewritten, " ".join(
                sentences[:k] + [corrupted] + sentences[k + 1:])))
            break
    return triples


def _swap(word: str, swaps: dict[str, str]) -> str:
    new = swaps.get(word.lower())
    if new is None:
        return word
    return new.capitalize() if word[:1].isupper() else new


def ordering_accuracy(
    triples: Iterable[tuple[str, str, str]], score: Callable[[list[str], list[str]], list[float]]
) -> float:
    """Share of triples where the harmless rewrite outscores the corrupted copy (ties 0.5).

    ``score(candidates, references)`` returns one higher-is-better number per pair.

    Examples:
        >>> ordering_accuracy([("r", "a", "b")], lambda c, r: [len(x) for x in c])
        0.5
    """
    triples = list(triples)
    if not triples:
        raise ValueError("ordering_accuracy needs at least one triple")
    refs = [t[0] for t in triples]
    good = score([t[1] for t in triples], refs)
    bad = score([t[2] for t in triples], refs)
    wins = sum(1.0 if g > b else 0.5 if g == b else 0.0 for g, b in zip(good, bad, strict=True))
    return wins / len(triples)


def held_out(uid: str) -> bool:
    """The held-out fifth of the OpenI gold reports: a fixed hash of the report uid.

    Examples:
        >>> sum(held_out(str(u)) for u in range(1, 1001))
        190
    """
    return zlib.crc32(uid.encode()) % 5 == 0
