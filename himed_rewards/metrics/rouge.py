"""ROUGE-L and ROUGE-N, identical to rouge-score 0.1.2 and to pycocoevalcap's ``Rouge``.

``rouge_l(h, refs)`` equals ``RougeScorer(["rougeL"], use_stemmer=...).score(ref, h)
["rougeL"].fmeasure`` (for several references, ``score_multi``'s best F). ``rouge_n`` likewise
for ``rouge1`` / ``rouge2``. ``convention="coco"`` reproduces pycocoevalcap's ROUGE-L
(tokens are ``str.split(" ")``; precision and recall each maximised over references, then
F with beta = 1.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from himed_rewards.kernels.lcs import lcs_lengths, lcs_pair
from himed_rewards.kernels.ngrams import ngram_matches
from himed_rewards.metrics._inputs import (
    Text,
    check_choice,
    check_positive_int,
    normalize_batch,
    normalize_references,
)
from himed_rewards.metrics._layout import Layout, build_layout, encode_text, scratch
from himed_rewards.text.interning import as_token_input
from himed_rewards.text.tokenizers import Tokenizer, get_tokenizer

__all__ = ["RougeScore", "rouge_l", "rouge_l_batch", "rouge_n", "rouge_n_batch", "lcs_batch",
           "rouge_l_from_layout"]

_CONVENTIONS = ("rouge-score", "coco")
_COCO_BETA = 1.2


@dataclass(frozen=True)
class RougeScore:
    """Precision, recall and F-measure arrays of a batch (rouge-score's ``Score``, vectorised)."""

    precision: np.ndarray
    recall: np.ndarray
    fmeasure: np.ndarray


def _tokenizer(use_stemmer: bool, tokenize: str | Tokenizer | None, convention: str) -> Tokenizer:
    if tokenize is not None:
        return get_tokenizer(tokenize)
    if convention == "coco":
        return get_tokenizer("space")
    return get_tokenizer("rouge+stem" if use_stemmer else "rouge")


def _expand(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Every (hypothesis, reference) pair, pairs of one reference adjacent."""
    sizes = np.diff(layout.group_ref_offsets)[layout.hyp_group]
    n_hyps = layout.hyp_group.shape[0]
    starts = layout.group_ref_offsets[layout.hyp_group]
    if n_hyps == 0 or np.all(sizes == 1):  # the common case: one reference per hypothesis
        pair_hyp, pair_ref = np.arange(n_hyps, dtype=np.int64), starts.astype(np.int64)
    else:
        pair_hyp = np.repeat(np.arange(n_hyps, dtype=np.int64), sizes)
        within = np.arange(pair_hyp.shape[0], dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        pair_ref = np.repeat(starts, sizes) + within
    order = np.argsort(pair_ref, kind="stable")
    return pair_hyp[order], pair_ref[order]


def _f(precision: np.ndarray, recall: np.ndarray, beta: float = 1.0) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if beta == 1.0:
            f = 2 * precision * recall / (precision + recall)  # rouge-score's fmeasure
        else:
            b2 = beta**2
            f = ((1 + b2) * precision * recall) / (recall + b2 * precision)
    return np.where((precision > 0) & (recall > 0), f, 0.0)


def _best_per_hypothesis(pair_hyp: np.ndarray, p: np.ndarray, r: np.ndarray, f: np.ndarray,
                         n_hyps: int) -> RougeScore:
    """rouge-score's score_multi: the pair with the highest F (first one on ties)."""
    if len(pair_hyp) == n_hyps:  # one pair per hypothesis: nothing to choose
        chosen = np.arange(n_hyps)
    else:
        order = np.lexsort((np.arange(len(f)), -f, pair_hyp))
        first = np.ones(len(order), dtype=bool)
        first[1:] = pair_hyp[order][1:] != pair_hyp[order][:-1]
        chosen = order[first]
    out = [np.zeros(n_hyps) for _ in range(3)]
    for arr, src in zip(out, (p, r, f), strict=True):
        arr[pair_hyp[chosen]] = src[chosen]
    return RougeScore(*out)


def _pairs_sorted_by_pair_index(pair_hyp: np.ndarray, pair_ref: np.ndarray):
    # Restore, within each hypothesis, the order of its references (score_multi's argmax
    # picks the first best reference).
    order = np.lexsort((pair_ref, pair_hyp))
    return pair_hyp[order], pair_ref[order], order


def lcs_batch(hypotheses: Sequence[Text], references: Sequence[Text], *,
              tokenize: str | Tokenizer = "rouge") -> np.ndarray:
    """LCS length (in tokens) of each aligned pair (one reference each).

    Examples:
        >>> lcs_batch(["the lungs are clear"], ["lungs clear"]).tolist()
        [2]
    """
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError(f"references must be a sequence (list or tuple), got "
                        f"{type(references).__name__}")
    # each entry is one reference: wrap it so a token list is not read as several references
    hyps, refs = normalize_batch(hypotheses, [[r] for r in references])
    layout = build_layout(hyps, refs, get_tokenizer(tokenize))
    pair_hyp, pair_ref = _expand(layout)
    lengths = lcs_lengths(layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
                          pair_hyp, pair_ref, scratch())
    out = np.zeros(len(hyps), dtype=np.int64)
    out[pair_hyp] = lengths
    return out


def rouge_l_batch(
    hypotheses: Sequence[Text], references: Sequence[object], *, use_stemmer: bool = False,
    tokenize: str | Tokenizer | None = None, convention: str = "rouge-score",
) -> RougeScore:
    """ROUGE-L precision, recall and F for many pairs in one kernel call.

    Examples:
        >>> s = rouge_l_batch(["the lungs are clear", "no effusion"], ["lungs are clear", "effusion"])
        >>> s.fmeasure.round(4).tolist()
        [0.8571, 0.6667]
    """
    convention = check_choice(convention, _CONVENTIONS, "convention")
    tokenizer = _tokenizer(use_stemmer, tokenize, convention)
    hyps, refs = normalize_batch(hypotheses, references)
    return rouge_l_from_layout(build_layout(hyps, refs, tokenizer), convention=convention)


def rouge_l_from_layout(layout: Layout, *, convention: str = "rouge-score") -> RougeScore:
    """ROUGE-L of every hypothesis of an already-encoded layout (the reward layer's entry)."""
    if convention == "rouge-score" and _one_reference_per_group(layout):
        return _one_reference_each(layout)
    convention = check_choice(convention, _CONVENTIONS, "convention")
    pair_hyp, pair_ref = _expand(layout)
    lengths = lcs_lengths(layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
                          pair_hyp, pair_ref, scratch())
    hyp_len = layout.hyp_lens[pair_hyp].astype(np.float64)
    ref_len = layout.ref_lens[pair_ref].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(hyp_len > 0, lengths / hyp_len, 0.0)
        r = np.where(ref_len > 0, lengths / ref_len, 0.0)
    n_hyps = layout.hyp_group.shape[0]
    if convention == "coco":
        best_p = np.zeros(n_hyps)
        best_r = np.zeros(n_hyps)
        np.maximum.at(best_p, pair_hyp, p)
        np.maximum.at(best_r, pair_hyp, r)
        return RougeScore(best_p, best_r, _f(best_p, best_r, _COCO_BETA))
    empty = (hyp_len == 0) | (ref_len == 0)  # rouge-score returns (0, 0, 0) for these
    p, r = np.where(empty, 0.0, p), np.where(empty, 0.0, r)
    pair_hyp, pair_ref, order = _pairs_sorted_by_pair_index(pair_hyp, pair_ref)
    p, r = p[order], r[order]
    return _best_per_hypothesis(pair_hyp, p, r, _f(p, r), n_hyps)


def _one_reference_per_group(layout: Layout) -> bool:
    group_ref_offsets = layout.group_ref_offsets
    return (group_ref_offsets.shape[0] == layout.ref_offsets.shape[0]
            and bool((group_ref_offsets[1:] - group_ref_offsets[:-1] == 1).all()))


def _one_reference_each(layout: Layout) -> RougeScore:
    """rouge-score's ROUGE-L where each hypothesis has one reference (the reward's batches):
    the general path's floats, in a handful of array operations (no pair sorting, no choice
    among references, no floating-point state switching: most of a small batch's time)."""
    pair_hyp = layout.hyp_index  # hypotheses of one reference adjacent, as lcs_lengths wants
    pair_ref = layout.hyp_group[pair_hyp]  # group g's one reference is reference g
    lengths = np.empty(pair_hyp.shape[0], dtype=np.int64)
    lengths[pair_hyp] = lcs_lengths(layout.hyp_ids, layout.hyp_offsets, layout.ref_ids,
                                    layout.ref_offsets, pair_hyp, pair_ref, scratch())
    hyp_offsets, ref_offsets = layout.hyp_offsets, layout.ref_offsets
    hyp_len = hyp_offsets[1:] - hyp_offsets[:-1]
    ref_len = (ref_offsets[1:] - ref_offsets[:-1])[layout.hyp_group]
    # An empty side has no common subsequence: lengths is 0 there, so dividing by 1 instead
    # gives the 0.0 that rouge-score returns, and every other quotient is the general path's.
    p = lengths / np.maximum(hyp_len, 1)
    r = lengths / np.maximum(ref_len, 1)
    # 2 * p * r / (p + r), as rouge-score computes it, where both are positive (lengths > 0)
    return RougeScore(p, r, 2 * p * r / np.where(lengths > 0, p + r, 1.0))


def rouge_l(hypothesis: Text, references: object, *, use_stemmer: bool = False,
            tokenize: str | Tokenizer | None = None, convention: str = "rouge-score") -> float:
    """ROUGE-L F-measure in [0, 1].

    Args:
        hypothesis: a string, or a sequence of tokens used as it is.
        references: one reference, or several (the best F over them, as ``score_multi``).
        use_stemmer: nltk Porter stemming of tokens longer than 3 characters (rouge-score).
        tokenize: override the tokenizer (default: rouge-score's; ``"space"`` for coco).
        convention: ``"rouge-score"`` or ``"coco"`` (pycocoevalcap, beta = 1.2).

    Examples:
        >>> round(rouge_l("The lungs are clear.", "Lungs are clear."), 4)
        0.8571
        >>> round(rouge_l("lungs are clear", ["heart normal", "the lungs are clear"]), 4)
        0.8571
    """
    hyp = as_token_input(hypothesis, "hypothesis")
    refs = normalize_references(references)
    if len(refs) == 1 and convention == "rouge-score":  # the common call, without batch layout
        tokenizer = _tokenizer(use_stemmer, tokenize, convention)
        h, r = encode_text(hyp, tokenizer), encode_text(refs[0], tokenizer)
        if h.shape[0] == 0 or r.shape[0] == 0:
            return 0.0
        lcs = lcs_pair(h, r, scratch())
        precision, recall = lcs / h.shape[0], lcs / r.shape[0]
        if precision + recall == 0:
            return 0.0
        return 2 * precision * recall / (precision + recall)
    return float(rouge_l_batch([hyp], [refs], use_stemmer=use_stemmer, tokenize=tokenize,
                               convention=convention).fmeasure[0])


def rouge_n_batch(hypotheses: Sequence[Text], references: Sequence[object], *, n: int = 1,
                  use_stemmer: bool = False, tokenize: str | Tokenizer | None = None) -> RougeScore:
    """ROUGE-N for many pairs (rouge-score's ``rouge1``/``rouge2``/... and ``score_multi``).

    Examples:
        >>> rouge_n_batch(["no pleural effusion"], ["pleural effusion"], n=2).fmeasure.round(4).tolist()
        [0.6667]
    """
    n = check_positive_int(n, "n", maximum=9)
    tokenizer = _tokenizer(use_stemmer, tokenize, "rouge-score")
    hyps, refs = normalize_batch(hypotheses, references)
    base = build_layout(hyps, refs, tokenizer)
    # One reference per group: each (hypothesis, reference) pair is scored on its own.
    pair_hyp, pair_ref = _expand(base)
    pair_hyp, pair_ref, _ = _pairs_sorted_by_pair_index(pair_hyp, pair_ref)
    n_pairs = len(pair_hyp)
    layout_groups = np.arange(n_pairs + 1, dtype=np.int64)
    hyp_ids, hyp_offsets = _gather(base.hyp_ids, base.hyp_offsets, pair_hyp)
    ref_ids, ref_offsets = _gather(base.ref_ids, base.ref_offsets, pair_ref)
    matches = ngram_matches(hyp_ids, hyp_offsets, ref_ids, ref_offsets, layout_groups,
                            layout_groups, np.arange(n_pairs, dtype=np.int64), n,
                            scratch())[:, n - 1]
    hyp_total = np.maximum(np.diff(hyp_offsets) - n + 1, 0)
    ref_total = np.maximum(np.diff(ref_offsets) - n + 1, 0)
    p = matches / np.maximum(hyp_total, 1)
    r = matches / np.maximum(ref_total, 1)
    return _best_per_hypothesis(pair_hyp, p, r, _f(p, r), len(hyps))


def _gather(ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lens = np.diff(offsets)[rows]
    new_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=new_offsets[1:])
    if len(rows) == 0 or new_offsets[-1] == 0:
        return np.zeros(0, dtype=np.int32), new_offsets
    parts = [ids[offsets[r]:offsets[r + 1]] for r in rows]
    return np.concatenate(parts).astype(np.int32, copy=False), new_offsets


def rouge_n(hypothesis: Text, references: object, *, n: int = 1, use_stemmer: bool = False,
            tokenize: str | Tokenizer | None = None) -> float:
    """ROUGE-N F-measure in [0, 1] (rouge-score's ``rouge{n}``).

    Examples:
        >>> round(rouge_n("no pleural effusion", "no effusion", n=1), 4)
        0.8
    """
    hyp = as_token_input(hypothesis, "hypothesis")
    refs = normalize_references(references)
    return float(rouge_n_batch([hyp], [refs], n=n, use_stemmer=use_stemmer,
                               tokenize=tokenize).fmeasure[0])
