"""BLEU, identical to sacrebleu 2.x (sentence and corpus) and to pycocoevalcap's ``Bleu(4)``.

Each pair is first reduced to sufficient statistics (clipped matches and totals per order,
hypothesis length, closest reference length); scores are pure functions of those, so the
sentence score is the corpus score of one segment and batches cost one kernel call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from himed_rewards.kernels.bleu import (
    MEAN_ARITHMETIC,
    MEAN_GEOMETRIC,
    SMOOTH_ADD_K,
    SMOOTH_EXP,
    SMOOTH_FLOOR,
    SMOOTH_NONE,
    bleu_row,
    bleu_rows,
    closest_ref_lens,
)
from himed_rewards.kernels.ngrams import ngram_matches, ngram_matches_one
from himed_rewards.metrics._inputs import (
    Text,
    check_choice,
    check_number,
    check_positive_int,
    normalize_batch,
    normalize_references,
)
from himed_rewards.metrics._layout import Layout, build_layout, concat, encode_text, scratch
from himed_rewards.text.interning import as_token_input
from himed_rewards.text.tokenizers import Tokenizer, get_tokenizer

__all__ = ["BleuStats", "BleuScore", "sentence_bleu", "sentence_bleu_batch", "corpus_bleu",
           "bleu_stats", "bleu_from_layout", "cumulative_bleu_from_stats"]

_SMOOTH = {"none": SMOOTH_NONE, "floor": SMOOTH_FLOOR, "add-k": SMOOTH_ADD_K, "exp": SMOOTH_EXP}
_SMOOTH_DEFAULT = {"none": 0.0, "floor": 0.1, "add-k": 1.0, "exp": 0.0}  # sacrebleu's defaults
_MEAN = {"geometric": MEAN_GEOMETRIC, "arithmetic": MEAN_ARITHMETIC}
_CONVENTIONS = ("sacrebleu", "coco")
_DEFAULT_OPTIONS = (4, SMOOTH_EXP, _SMOOTH_DEFAULT["exp"], MEAN_GEOMETRIC)
_COCO_TINY, _COCO_SMALL = 1e-15, 1e-9  # pycocoevalcap's guards against zero division


@dataclass(frozen=True)
class BleuStats:
    """Additive BLEU statistics of a batch: one row per hypothesis."""

    matches: np.ndarray  # (n, max_order) clipped matches
    totals: np.ndarray  # (n, max_order) hypothesis n-grams
    hyp_lens: np.ndarray  # (n,)
    ref_lens: np.ndarray  # (n,) closest reference length

    def __len__(self) -> int:
        return self.hyp_lens.shape[0]

    def sum(self) -> BleuStats:
        """Corpus statistics: every column summed into a single row."""
        return BleuStats(self.matches.sum(0, keepdims=True), self.totals.sum(0, keepdims=True),
                         self.hyp_lens.sum(keepdims=True), self.ref_lens.sum(keepdims=True))


@dataclass(frozen=True)
class BleuScore:
    """A corpus BLEU result; ``score`` and ``cumulative`` in [0, 1].

    ``cumulative[k]`` is BLEU-(k+1) (what papers print as BLEU-1..4); ``score`` is
    BLEU-``max_order``.
    """

    score: float
    cumulative: tuple[float, ...]
    precisions: tuple[float, ...]
    brevity_penalty: float
    sys_len: int
    ref_len: int
    signature: str


def _options(max_order: int, smooth: str, smooth_value: float | None,
             mean: str) -> tuple[int, int, float, int]:
    """Validated scoring options: (max_order, smooth code, smooth value, mean code)."""
    if (type(max_order) is int and max_order == 4 and type(smooth) is str and smooth == "exp"
            and smooth_value is None and type(mean) is str and mean == "geometric"):
        return _DEFAULT_OPTIONS  # the defaults (the reward's): nothing to check
    max_order = check_positive_int(max_order, "max_order", maximum=32)
    smooth = check_choice(smooth, tuple(_SMOOTH), "smooth")
    value = _SMOOTH_DEFAULT[smooth] if smooth_value is None else check_number(
        smooth_value, "smooth_value", minimum=0.0)
    mean = check_choice(mean, tuple(_MEAN), "mean")
    return max_order, _SMOOTH[smooth], value, _MEAN[mean]


def _scores(layout: Layout, options: tuple[int, int, float, int],
            effective_order: bool) -> np.ndarray:
    max_order, smooth_code, value, mean_code = options
    stats = _stats(layout, max_order)
    scores = bleu_rows(stats.matches, stats.totals, stats.hyp_lens, stats.ref_lens, smooth_code,
                       value, bool(effective_order), mean_code)
    # exp(log) round trips can land 4e-16 above 1 (sacrebleu too): clip into [0, 1].
    return np.minimum(scores / 100.0, 1.0)


def _stats(layout: Layout, max_order: int) -> BleuStats:
    matches = ngram_matches(layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
                            layout.group_ref_offsets, layout.group_hyp_offsets, layout.hyp_index,
                            max_order, scratch())
    hyp_lens = layout.hyp_lens
    orders = np.arange(max_order, dtype=np.int64)
    totals = np.maximum(hyp_lens[:, None] - orders[None, :], 0)
    ref_lens = closest_ref_lens(hyp_lens, layout.ref_lens, layout.group_ref_offsets,
                                layout.hyp_group)
    return BleuStats(matches, totals, hyp_lens, ref_lens)


def bleu_stats(hypotheses: Sequence[Text], references: Sequence[object], *, max_order: int = 4,
               tokenize: str | Tokenizer = "13a", lowercase: bool = False) -> BleuStats:
    """Sufficient statistics for a batch (for bootstrap resampling or custom aggregation).

    Examples:
        >>> s = bleu_stats(["the lungs are clear"], ["lungs are clear"])
        >>> s.matches.tolist(), s.totals.tolist(), s.ref_lens.tolist()
        ([[3, 2, 1, 0]], [[4, 3, 2, 1]], [3])
    """
    max_order = check_positive_int(max_order, "max_order", maximum=32)
    hyps, refs = normalize_batch(hypotheses, references)
    return _stats(build_layout(hyps, refs, get_tokenizer(tokenize), lowercase), max_order)


def sentence_bleu_batch(
    hypotheses: Sequence[Text], references: Sequence[object], *, max_order: int = 4,
    smooth: str = "exp", smooth_value: float | None = None, tokenize: str | Tokenizer = "13a",
    lowercase: bool = False, effective_order: bool = True, mean: str = "geometric",
) -> np.ndarray:
    """``sentence_bleu`` for many pairs in one kernel call (``references[i]`` for ``hypotheses[i]``).

    Pairs with equal references share one prepared reference table.

    Examples:
        >>> sentence_bleu_batch(["no effusion .", "effusion ."], ["no effusion ."] * 2).round(4).tolist()
        [1.0, 0.6065]
    """
    options = _options(max_order, smooth, smooth_value, mean)
    tokenizer = get_tokenizer(tokenize)
    hyps, refs = normalize_batch(hypotheses, references)
    return _scores(build_layout(hyps, refs, tokenizer, lowercase), options, effective_order)


def bleu_from_layout(layout: Layout, *, max_order: int = 4, smooth: str = "exp",
                     smooth_value: float | None = None, effective_order: bool = True,
                     mean: str = "geometric") -> np.ndarray:
    """Sentence BLEU in [0, 1] for every hypothesis of an already-encoded layout.

    The reward layer uses this to tokenize once for all metrics.
    """
    return _scores(layout, _options(max_order, smooth, smooth_value, mean), effective_order)


def sentence_bleu(
    hypothesis: Text, references: object, *, max_order: int = 4, smooth: str = "exp",
    smooth_value: float | None = None, tokenize: str | Tokenizer = "13a", lowercase: bool = False,
    effective_order: bool = True, mean: str = "geometric",
) -> float:
    """Sentence BLEU in [0, 1]; defaults equal ``sacrebleu.sentence_bleu(h, refs).score / 100``.

    Args:
        hypothesis: a string, or a sequence of tokens used as it is.
        references: one reference string, or a sequence of references (strings or token
            sequences); n-gram counts are clipped by their maximum over references and the
            brevity penalty uses the closest reference length (ties: the shorter).
        max_order: highest n-gram order N.
        smooth: ``"none"``, ``"floor"``, ``"add-k"`` or ``"exp"`` (sacrebleu's methods).
        smooth_value: for ``floor`` (default 0.1) and ``add-k`` (default 1).
        tokenize: ``"13a"`` (sacrebleu's default), ``"default"``, ``"whitespace"``, ... or a
            Tokenizer.
        lowercase: lowercase before tokenizing.
        effective_order: stop at the highest order with hypothesis n-grams (sacrebleu's
            sentence default).
        mean: ``"geometric"`` (standard BLEU) or ``"arithmetic"``: the HiMed paper's Eq. 3
            taken literally, BP x sum_n (1/N) p_n.

    Examples:
        >>> round(sentence_bleu("The lungs are clear.", ["The lungs are clear."]), 6)
        1.0
        >>> round(sentence_bleu("Lungs are clear.", "The lungs are clear."), 4)
        0.4631
    """
    max_order, smooth_code, value, mean_code = _options(max_order, smooth, smooth_value, mean)
    tokenizer = get_tokenizer(tokenize)
    hyp = encode_text(as_token_input(hypothesis, "hypothesis"), tokenizer, lowercase)
    ref_arrays = [encode_text(r, tokenizer, lowercase) for r in normalize_references(references)]
    ref_ids, ref_offsets = concat(ref_arrays)
    matches = ngram_matches_one(hyp, ref_ids, ref_offsets, max_order, scratch())
    hyp_len = hyp.shape[0]
    totals = np.maximum(hyp_len - np.arange(max_order, dtype=np.int64), 0)
    ref_len = min((abs(hyp_len - a.shape[0]), a.shape[0]) for a in ref_arrays)[1]  # closest
    score, _ = bleu_row(matches, totals, hyp_len, ref_len, smooth_code, value,
                        bool(effective_order), mean_code)
    return min(score / 100.0, 1.0)


def corpus_bleu(
    hypotheses: Sequence[Text], references: Sequence[object], *, max_order: int = 4,
    smooth: str = "exp", smooth_value: float | None = None, tokenize: str | Tokenizer | None = None,
    lowercase: bool = False, effective_order: bool = False, convention: str = "sacrebleu",
) -> BleuScore:
    """Corpus BLEU: statistics summed over the corpus, then one score.

    ``convention="sacrebleu"`` equals ``sacrebleu.corpus_bleu(hyps, [refs]).score / 100``
    (tokenizer 13a by default). ``convention="coco"`` equals pycocoevalcap's
    ``Bleu(max_order).compute_score`` (whitespace tokens by default, closest reference length,
    its 1e-15 / 1e-9 guards), which report-generation papers (R2Gen and successors) print as
    BLEU-1..4: read them from ``cumulative``.

    Examples:
        >>> r = corpus_bleu(["no acute disease", "heart is normal"],
        ...                 ["no acute disease", "the heart is normal"], convention="coco")
        >>> [round(b, 4) for b in r.cumulative]
        [0.8465, 0.8465, 0.8465, 0.0268]
    """
    convention = check_choice(convention, _CONVENTIONS, "convention")
    if tokenize is None:
        tokenize = "13a" if convention == "sacrebleu" else "whitespace"
    max_order, smooth_code, value, _ = _options(max_order, smooth, smooth_value, "geometric")
    tokenizer = get_tokenizer(tokenize)
    hyps, refs = normalize_batch(hypotheses, references)
    total = _stats(build_layout(hyps, refs, tokenizer, lowercase), max_order).sum()
    matches, totals = total.matches[0], total.totals[0]
    sys_len, ref_len = int(total.hyp_lens[0]), int(total.ref_lens[0])
    signature = (f"bleu|conv:{convention}|n:{max_order}|tok:{tokenizer.signature()}"
                 f"|lc:{'yes' if lowercase else 'no'}")
    cumulative = tuple(cumulative_bleu_from_stats(
        total, convention=convention, smooth=smooth, smooth_value=smooth_value,
        effective_order=effective_order)[0].tolist())
    precisions = tuple(float(m) / float(t) if t else 0.0
                       for m, t in zip(matches, totals, strict=True))
    if convention == "coco":
        ratio = (sys_len + _COCO_TINY) / (ref_len + _COCO_SMALL)
        bp = math.exp(1 - 1 / ratio) if ratio < 1 else 1.0
    else:
        signature += f"|smooth:{smooth}|eff:{'yes' if effective_order else 'no'}"
        _, bp = bleu_row(matches, totals, sys_len, ref_len, smooth_code, value,
                         bool(effective_order), MEAN_GEOMETRIC)
    return BleuScore(cumulative[-1], cumulative, precisions, float(bp), sys_len, ref_len,
                     signature)


def cumulative_bleu_from_stats(
    stats: BleuStats, *, convention: str = "sacrebleu", smooth: str = "exp",
    smooth_value: float | None = None, effective_order: bool = False,
) -> np.ndarray:
    """BLEU-1..N of every row of ``stats`` as a corpus score, shape ``(rows, max_order)``.

    Each row is treated as the summed statistics of one corpus, so the rows of a bootstrap
    (resampled rows summed) are scored in one call. Row ``i`` equals
    ``corpus_bleu(...).cumulative`` of the corpus it sums, with the same ``convention`` (the
    tokenization happened when ``stats`` was built) and, for ``"sacrebleu"``, the same
    ``smooth`` / ``smooth_value`` / ``effective_order``.

    Examples:
        >>> s = bleu_stats(["no acute disease", "heart is normal"],
        ...                ["no acute disease", "the heart is normal"], tokenize="whitespace")
        >>> cumulative_bleu_from_stats(s.sum(), convention="coco").round(4).tolist()
        [[0.8465, 0.8465, 0.8465, 0.0268]]
    """
    convention = check_choice(convention, _CONVENTIONS, "convention")
    matches = np.ascontiguousarray(stats.matches, dtype=np.int64)
    totals = np.ascontiguousarray(stats.totals, dtype=np.int64)
    sys_len = np.ascontiguousarray(stats.hyp_lens, dtype=np.int64)
    ref_len = np.ascontiguousarray(stats.ref_lens, dtype=np.int64)
    max_order = matches.shape[1]
    if convention == "coco":
        # pycocoevalcap's order of operations: running product, k-th root, then BP.
        ratios = (matches + _COCO_TINY) / (totals + _COCO_SMALL)
        cumulative = np.cumprod(ratios, axis=1) ** (1.0 / np.arange(1, max_order + 1))
        ratio = (sys_len + _COCO_TINY) / (ref_len + _COCO_SMALL)
        with np.errstate(divide="ignore"):
            bp = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
        return cumulative * bp[:, None]
    _, smooth_code, value, _ = _options(max_order, smooth, smooth_value, "geometric")
    out = np.empty((matches.shape[0], max_order), dtype=np.float64)
    for n in range(1, max_order + 1):
        scores = bleu_rows(np.ascontiguousarray(matches[:, :n]),
                           np.ascontiguousarray(totals[:, :n]), sys_len, ref_len, smooth_code,
                           value, bool(effective_order), MEAN_GEOMETRIC)
        out[:, n - 1] = np.minimum(scores / 100.0, 1.0)
    return out
