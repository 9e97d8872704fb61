"""Lay a batch out for the kernels: interned CSR arrays, references grouped and shared.

Hypotheses whose reference tuples are equal share one *group*: its references are interned
and laid out once, and kernels build per-group tables once (the GRPO case: G completions per
reference).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from himed_rewards.kernels.groups import one_reference_groups
from himed_rewards.metrics._inputs import Text
from himed_rewards.text.base import offsets_of
from himed_rewards.text.interning import encode, encode_tokens
from himed_rewards.text.tokenizers import Tokenizer, concat_ids
from himed_rewards.text.vocabulary import VOCAB

__all__ = ["Layout", "build_layout", "layout_for_encoded", "layout_from_arrays", "layout_from_csr",
           "reference_groups", "sub_layout", "encode_text", "concat", "scratch"]


def encode_text(text: Text, tokenizer: Tokenizer, lowercase: bool = False) -> np.ndarray:
    """Interned ids of one text: tokenized if ``str``, used as it is if a token tuple."""
    if isinstance(text, str):
        return encode(text, tokenizer, lowercase=lowercase)
    return encode_tokens(text, lowercase=lowercase)


def concat(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate id arrays into (ids, offsets) with int64 offsets."""
    return concat_ids(arrays)


@dataclass(frozen=True)
class Layout:
    """A batch in kernel form (see ``himed_rewards.kernels.ngrams`` for the fields)."""

    hyp_ids: np.ndarray
    hyp_offsets: np.ndarray
    ref_ids: np.ndarray
    ref_offsets: np.ndarray
    group_ref_offsets: np.ndarray
    group_hyp_offsets: np.ndarray
    hyp_index: np.ndarray
    hyp_group: np.ndarray

    # (a subtraction of two views: np.diff's generality costs more than the work on a
    # small batch)
    @property
    def hyp_lens(self) -> np.ndarray:
        return self.hyp_offsets[1:] - self.hyp_offsets[:-1]

    @property
    def ref_lens(self) -> np.ndarray:
        return self.ref_offsets[1:] - self.ref_offsets[:-1]


def build_layout(
    hypotheses: list[Text],
    references: list[tuple[Text, ...]],
    tokenizer: Tokenizer,
    lowercase: bool = False,
) -> Layout:
    """Encode and group a validated batch.

    Plain text goes through ``tokenizer.encode_batch`` in one call per side (compiled
    tokenizers intern a whole batch in one kernel call); token tuples are used as they are.
    """
    is_str = str.__instancecheck__
    if not lowercase and all(map(is_str, hypotheses)):
        hyp_ids, hyp_offsets = tokenizer.encode_batch(hypotheses)  # type: ignore[arg-type]
    else:
        hyp_ids, hyp_offsets = concat_ids([encode_text(h, tokenizer, lowercase)
                                           for h in hypotheses])
    group_of: dict[tuple[Text, ...], int] = {}
    groups: list[int] = []
    ref_texts: list[Text] = []
    group_sizes: list[int] = []
    for refs in references:
        g = group_of.get(refs)
        if g is None:
            g = group_of[refs] = len(group_sizes)
            group_sizes.append(len(refs))
            ref_texts.extend(refs)
        groups.append(g)
    if not lowercase and all(map(is_str, ref_texts)):
        ref_ids, ref_offsets = tokenizer.encode_batch(ref_texts)  # type: ignore[arg-type]
    else:
        ref_ids, ref_offsets = concat_ids([encode_text(r, tokenizer, lowercase)
                                           for r in ref_texts])
    hyp_group = np.array(groups, dtype=np.int64)
    return layout_from_csr(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_sizes, hyp_group)


def layout_for_encoded(hyp_ids: np.ndarray, hyp_offsets: np.ndarray, references: list[str],
                       tokenizer: Tokenizer,
                       encoded: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
                       ) -> Layout:
    """A layout from already-interned hypotheses (CSR), hypothesis i with the one reference
    text ``references[i]``; equal references share a group, as in :func:`build_layout`.
    ``encoded``: the references' ``(groups, hyp_group, ref_ids, ref_offsets)`` already made
    (:func:`reference_groups`, then the distinct references' ids), or None."""
    if encoded is None:
        distinct, hyp_group = reference_groups(references)
        ref_ids, ref_offsets = tokenizer.encode_batch(distinct)
        groups = len(distinct)
    else:
        groups, hyp_group, ref_ids, ref_offsets = encoded
    # layout_from_csr's arrays for one reference a group, in one kernel call
    group_ref_offsets = np.empty(groups + 1, dtype=np.int64)
    group_hyp_offsets = np.empty(groups + 1, dtype=np.int64)
    hyp_index = np.empty(len(references), dtype=np.int64)
    one_reference_groups(hyp_group, group_ref_offsets, group_hyp_offsets, hyp_index)
    return Layout(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets,
                  group_hyp_offsets, hyp_index, hyp_group)


def reference_groups(references: list[str]) -> tuple[list[str], np.ndarray]:
    """``(distinct, hyp_group)``: the distinct references in first-seen order (as
    :func:`build_layout` numbers them), and each reference's index among them.

    Examples:
        >>> distinct, hyp_group = reference_groups(["a", "b", "a"])
        >>> distinct, hyp_group.tolist()
        (['a', 'b'], [0, 1, 0])
    """
    distinct = list(dict.fromkeys(references))
    group_of = dict(zip(distinct, range(len(distinct)), strict=True))
    hyp_group = np.fromiter(map(group_of.__getitem__, references), dtype=np.int64,
                            count=len(references))
    return distinct, hyp_group


def layout_from_arrays(hyp_arrays: list[np.ndarray], ref_arrays: list[np.ndarray],
                       group_sizes: list[int], hyp_group: np.ndarray) -> Layout:
    """A layout from already-interned arrays: ``group_sizes[g]`` consecutive entries of
    ``ref_arrays`` are group g's references and ``hyp_group[i]`` is hypothesis i's group."""
    hyp_ids, hyp_offsets = concat(hyp_arrays)
    ref_ids, ref_offsets = concat(ref_arrays)
    return layout_from_csr(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_sizes, hyp_group)


def layout_from_csr(hyp_ids: np.ndarray, hyp_offsets: np.ndarray, ref_ids: np.ndarray,
                    ref_offsets: np.ndarray, group_sizes: list[int],
                    hyp_group: np.ndarray) -> Layout:
    """A layout from CSR id arrays (see :func:`layout_from_arrays` for the grouping)."""
    group_ref_offsets = offsets_of(group_sizes, len(group_sizes))
    hyp_index = np.argsort(hyp_group, kind="stable").astype(np.int64)
    group_hyp_offsets = _offsets_of_array(np.bincount(hyp_group, minlength=len(group_sizes)))
    return Layout(hyp_ids, hyp_offsets, ref_ids, ref_offsets, group_ref_offsets,
                  group_hyp_offsets, hyp_index, hyp_group)


def sub_layout(layout: Layout, lo: int, hi: int) -> Layout:
    """Hypotheses ``lo:hi`` of a layout with the references of their groups only, in the
    groups' order: a chunk of the batch that a kernel scores as it would the whole (equal
    references far apart in the batch, as normal reports are, share a group, so a chunk's
    groups need not be adjacent).

    Examples:
        >>> from himed_rewards.text.tokenizers import get_tokenizer
        >>> layout = build_layout(["a b", "c", "d"], [("x",), ("y z",), ("x",)],
        ...                       get_tokenizer("default"))
        >>> chunk = sub_layout(layout, 1, 3)
        >>> chunk.hyp_group.tolist(), VOCAB.tokens(chunk.ref_ids)
        ([1, 0], ['x', 'y', 'z'])
    """
    s0, s1 = int(layout.hyp_offsets[lo]), int(layout.hyp_offsets[hi])
    hyp_ids, hyp_offsets = layout.hyp_ids[s0:s1], layout.hyp_offsets[lo:hi + 1] - s0
    in_chunk = layout.hyp_group[lo:hi]
    steps = in_chunk[1:] - in_chunk[:-1]
    if steps.shape[0] == 0 or (steps.min() >= 0 and steps.max() <= 1):
        # the GRPO case: groups g0, g0 + 1, ... in order, each a run of pairs: views
        g0, g1 = int(in_chunk[0]), int(in_chunk[-1]) + 1
        r0, r1 = int(layout.group_ref_offsets[g0]), int(layout.group_ref_offsets[g1])
        t0, t1 = int(layout.ref_offsets[r0]), int(layout.ref_offsets[r1])
        hyp_group = in_chunk - g0
        return Layout(hyp_ids, hyp_offsets, layout.ref_ids[t0:t1],
                      layout.ref_offsets[r0:r1 + 1] - t0, layout.group_ref_offsets[g0:g1 + 1] - r0,
                      _offsets_of_array(np.bincount(hyp_group, minlength=g1 - g0)),
                      np.arange(hi - lo, dtype=np.int64), hyp_group)
    groups, hyp_group = np.unique(in_chunk, return_inverse=True)
    hyp_group = hyp_group.astype(np.int64, copy=False)
    first = layout.group_ref_offsets[groups]
    per_group = layout.group_ref_offsets[groups + 1] - first
    refs = _ranges(first, per_group)
    ref_starts = layout.ref_offsets[refs]
    ref_lens = layout.ref_offsets[refs + 1] - ref_starts
    return Layout(hyp_ids, hyp_offsets, layout.ref_ids[_ranges(ref_starts, ref_lens)],
                  _offsets_of_array(ref_lens), _offsets_of_array(per_group),
                  _offsets_of_array(np.bincount(hyp_group, minlength=groups.shape[0])),
                  np.argsort(hyp_group, kind="stable").astype(np.int64), hyp_group)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``arange(s, s + n)`` for each start ``s`` and length ``n``, concatenated.

    Examples:
        >>> _ranges(np.array([5, 0]), np.array([2, 3])).tolist()
        [5, 6, 0, 1, 2]
    """
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if ends.shape[0] else 0) + np.repeat(starts - ends + lengths,
                                                                    lengths)


def _offsets_of_array(lengths: np.ndarray) -> np.ndarray:
    """CSR offsets of an int64 array of lengths (``text.base.offsets_of`` takes Python ints)."""
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


_SCRATCH = threading.local()


def scratch(size: int | None = None) -> np.ndarray:
    """This thread's id -> local-row scratch (all -1), at least ``size`` long (by default,
    every vocabulary id: every id a layout holds comes from ``VOCAB``).

    Kernels restore the buffer to all -1 before returning. Each thread has its own, so a
    kernel that releases the GIL (the low-level reward's, on several threads at once) can
    use it as the others do.

    Examples:
        >>> buffer = scratch(10)
        >>> buffer.shape[0] >= 10, bool((buffer == -1).all())
        (True, True)
    """
    need = len(VOCAB) if size is None else size
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.shape[0] < need:
        grown = 1024 if buffer is None else 2 * buffer.shape[0]
        buffer = _SCRATCH.buffer = np.full(max(need, grown), -1, dtype=np.int32)
    return buffer
