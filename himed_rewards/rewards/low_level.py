"""The low-level reward's columns of a batch in one kernel call (``kernels/reward.py``).

This is the common case of ``score_batch``: the default tokenizer and the paper's keyword
bonus, with no grounding and no negation. It gives the floats that the metric front doors
(``bleu_from_layout``, ``rouge_l_from_layout``, ``meteor_from_layout``) and
``keyword_bonus_columns`` give, without the Python between them.

With two threads, a batch of many pairs is split by metric: a pool thread computes BLEU and
the keyword bonus (``kernels.reward.token_keyword_columns``), then names each report's
keywords, while the calling thread computes ROUGE-L (``rouge_columns``), learns the METEOR
keys of the batch's new words (the interpreter's work, which the pool thread's kernel,
holding no GIL, runs beside) and computes METEOR (``meteor_columns``); then the sums. Split
by pairs, as before, both threads waited while the caller learnt the keys, and each
thread's Python at the end (the names) waited on the other's: 6.11 against 6.57 us a pair
on fresh GRPO batches, alternating call by call (docs/speed_history.md, "Two threads split a
batch by metric"). With more threads, a batch is cut into chunks of consecutive
pairs, each with its groups' references (``metrics._layout.sub_layout``), one per thread
(``rewards.threads``). Either way the kernels release the GIL, each thread has its own
scratch buffers (``scratch``, ``MeteorKeys.head``), and every pair's floats are the same
whichever thread scores it (a pair's scores depend on its own hypothesis and reference
only; each column is computed by one kernel).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from himed_rewards.kernels._config import LazyKernel
from himed_rewards.kernels.reward import (
    low_level_columns,
    meteor_columns,
    rouge_columns,
    sum_columns,
    token_keyword_columns,
)
from himed_rewards.metrics._layout import Layout, scratch, sub_layout
from himed_rewards.metrics.bleu import _options
from himed_rewards.metrics.meteor import _check_parameters
from himed_rewards.rewards.config import RewardConfig
from himed_rewards.rewards.keywords import KeywordVocabulary, _check_weight, _names_by_report
from himed_rewards.rewards.threads import (
    MIN_PAIRS_BEHIND_JUDGE,
    MIN_PAIRS_PER_THREAD,
    chunk_bounds,
    get_num_threads,
    submit,
)
from himed_rewards.text.vocabulary import VOCAB
from himed_rewards.text.wordnet import METEOR_KEYS

__all__ = ["fused_columns", "name_non_finite", "start_fused_columns"]


def name_non_finite(token: np.ndarray, rouge: np.ndarray, meteor: np.ndarray) -> None:
    """Raise ``FloatingPointError`` naming the first of the three score columns that holds a
    NaN or an infinity (the kernels never produce one: a guard, for either path).

    Examples:
        >>> name_non_finite(np.array([0.5]), np.array([np.nan]), np.array([0.5]))
        Traceback (most recent call last):
        ...
        FloatingPointError: rouge_l produced a non-finite score
    """
    for name, values in (("token", token), ("rouge_l", rouge), ("meteor", meteor)):
        if not np.isfinite(values).all():
            raise FloatingPointError(f"{name} produced a non-finite score")


def fused_columns(layout: Layout, formats: list[float], config: RewardConfig,
                  vocabulary: KeywordVocabulary) -> tuple[np.ndarray, list[tuple[str, ...]]] | None:
    """``(columns, matched)``: the float64 ``(7, n)`` rows of ``kernels.reward.COLUMNS``,
    and each report's matched keyword names, sorted. None when the batch needs the metrics'
    own paths: a reference that is too long for the common LCS kernel. ``layout``'s
    hypotheses must be interned with the default tokenizer, as the keyword trie is.

    Raises:
        FloatingPointError: a metric produced a non-finite score.

    Examples:
        >>> from himed_rewards.metrics._layout import build_layout
        >>> from himed_rewards.text.tokenizers import get_tokenizer
        >>> layout = build_layout(["small left effusion"], [("small effusion",)],
        ...                       get_tokenizer("default"))
        >>> columns, matched = fused_columns(layout, [1.0], RewardConfig(semantic=None),
        ...                                  KeywordVocabulary.default())
        >>> columns.shape, matched
        ((7, 1), [('effusion',)])
    """
    return start_fused_columns(layout, formats, config, vocabulary)()


def start_fused_columns(layout: Layout, formats: list[float] | np.ndarray, config: RewardConfig,
                        vocabulary: KeywordVocabulary, *, background: bool = False
                        ) -> Callable[[], tuple[np.ndarray, list[tuple[str, ...]]] | None]:
    """:func:`fused_columns`, started: returns the function that gives its result.
    ``formats`` may be a float64 array already (the parse's ``format_array``).

    Without ``background`` the batch is scored before this returns, its chunks on the pool's
    threads and the first one in the calling thread (with two threads, its BLEU and keywords
    on the pool and the rest in the calling thread: see the module's doc). With
    ``background`` (the caller has other work: the semantic level), every chunk goes to the
    pool, one fewer than ``get_num_threads()``, and this returns once the kernel is running;
    with one thread allowed, the kernel not compiled yet, or fewer than
    ``MIN_PAIRS_BEHIND_JUDGE`` pairs, it scores the batch at once, as without. Either way, a
    chunk the pool has not started when its result is asked for (the pool busy with other
    callers' chunks) is scored by the calling thread instead.

    Examples:
        >>> from himed_rewards.metrics._layout import build_layout
        >>> from himed_rewards.text.tokenizers import get_tokenizer
        >>> layout = build_layout(["no effusion"], [("small effusion",)], get_tokenizer("default"))
        >>> finish = start_fused_columns(layout, [-1.0], RewardConfig(semantic=None),
        ...                              KeywordVocabulary.default(), background=True)
        >>> columns, matched = finish()
        >>> matched
        [('effusion',)]
    """
    n = layout.hyp_group.shape[0]
    if n == 0:
        return lambda: None
    (max_order, smooth, smooth_value, mean), (alpha, beta, gamma), (keyword_beta, keyword_cap), \
        weights = _config_options(config)
    trie = vocabulary.trie()
    keyword_options = (trie.root_child, trie.child_start, trie.child_token, trie.child_node,
                       trie.node_keyword, trie.n_keywords, trie.child_mask,
                       vocabulary.name_rank(), keyword_beta, keyword_cap)
    formats_array = (formats if isinstance(formats, np.ndarray)
                     else np.array(formats, dtype=np.float64))
    # (a stand-in may run in the interpreter, which holds the GIL: one thread)
    threads = 1 if isinstance(low_level_columns, LazyKernel) else get_num_threads()
    background = background and threads > 1 and n >= MIN_PAIRS_BEHIND_JUDGE
    if threads == 2 and not background and n >= 2 * MIN_PAIRS_PER_THREAD:  # (two chunks' worth)
        return _by_metric(layout, formats_array, (max_order, smooth, smooth_value, True, mean),
                          (alpha, beta, gamma), keyword_options, weights, vocabulary)
    tables = METEOR_KEYS.arrays(layout.hyp_ids, layout.ref_ids)
    sizes = len(VOCAB), METEOR_KEYS.head().shape[0]  # what this batch's ids and keys index
    options = (max_order, smooth, smooth_value, True, mean, *tables, alpha, beta, gamma,
               *keyword_options)
    chunks = (_chunks(layout, threads - 1) if background
              else _chunks(layout, threads, _LEAD_PAIRS))
    started = threading.Event()

    def run(k: int):
        lo, hi, chunk = chunks[k]
        started.set()
        ok, finite, columns, offsets, ranks = _run_kernel(chunk, sizes, options,
                                                          formats_array[lo:hi], weights)
        # (each chunk's names in its own thread: while one thread names, the other may
        # still be in the kernel, which does not hold the GIL)
        return ok, finite, columns, _names_by_report(vocabulary, offsets, ranks) if ok else []

    first = 0 if background else 1  # the chunks the pool scores
    pending = [(k, submit(lambda k=k: run(k))) for k in range(first, len(chunks))]
    here = [] if background else [run(0)]
    if background:
        # Wait until a pool thread is in the kernel: once there it has released the GIL, but
        # getting hold of it first could take up to the interpreter's switch interval (5 ms)
        # while this thread runs Python.
        started.wait(_START_TIMEOUT_S)

    def finish():
        # a chunk the pool has not started (its threads busy with other callers' chunks) is
        # taken back and scored here rather than waited for
        return _joined(here + [run(k) if future.cancel() else future.result()
                               for k, future in pending])

    return finish


def _config_options(config: RewardConfig) -> tuple[tuple, tuple, tuple, tuple]:
    """The kernel's options from ``config``, checked: BLEU's (as ``metrics.bleu._options``
    codes them), METEOR's parameters, the keyword bonus's beta and cap, the three weights.
    Kept for the configs last used (a config is frozen): four checks a call, each some
    5-20 us of Python on a training step's cold caches, become one look-up."""
    kept = _OPTIONS.get(id(config))
    if kept is not None and kept[0] is config:
        return kept[1]
    options = (_options(config.bleu_max_order, config.bleu_smooth, None, config.bleu_mean),
               _check_parameters(config.meteor_alpha, config.meteor_beta, config.meteor_gamma),
               (_check_weight(config.keyword_beta, "beta"), _check_weight(config.keyword_cap, "cap")),
               (config.w_token, config.w_concept, config.w_format))
    if len(_OPTIONS) >= 16:
        _OPTIONS.clear()
    _OPTIONS[id(config)] = (config, options)  # (the config held: its id is not reused)
    return options


_OPTIONS: dict[int, tuple[RewardConfig, tuple]] = {}


def _by_metric(layout: Layout, formats: np.ndarray, bleu_options: tuple, meteor_options: tuple,
               keyword_options: tuple, weights: tuple[float, float, float],
               vocabulary: KeywordVocabulary
               ) -> Callable[[], tuple[np.ndarray, list[tuple[str, ...]]] | None]:
    """:func:`start_fused_columns` on two threads, split by metric (see the module's doc):
    BLEU, the keyword bonus and the keywords' names on the pool; ROUGE-L, the METEOR keys and
    METEOR here, which are done when this returns."""
    n = layout.hyp_group.shape[0]
    columns = np.empty((7, n), dtype=np.float64)
    size = len(VOCAB)  # what this batch's ids index (taken in the caller's session)

    def token_keywords() -> list[tuple[str, ...]]:
        keyword_offsets, ranks = token_keyword_columns(
            layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
            layout.group_ref_offsets, layout.group_hyp_offsets, layout.hyp_index,
            layout.hyp_group, scratch(size), *bleu_options, *keyword_options, columns)
        return _names_by_report(vocabulary, keyword_offsets, ranks)

    pending = submit(token_keywords)
    # ROUGE-L first: its kernel holds no GIL, so the pool's thread, waking up meanwhile (about
    # 0.1 ms), takes it at once to start its own; then the keys, in the interpreter
    # (declines a group of several references, as low_level_columns does: the pool's work
    # is then thrown away, which the reward's own layouts, one reference a group, never see)
    ok = rouge_columns(layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
                       layout.group_ref_offsets, layout.hyp_index, layout.hyp_group,
                       scratch(size), columns)
    if ok:
        tables = METEOR_KEYS.arrays(layout.hyp_ids, layout.ref_ids)
        meteor_columns(layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
                       layout.group_ref_offsets, layout.hyp_group, *tables, METEOR_KEYS.head(),
                       *meteor_options, columns)

    def finish():
        # (not started: the pool's thread is busy with other callers' work; scored here)
        matched = token_keywords() if pending.cancel() else pending.result()
        if not ok:  # a reference for the rare LCS kernel: the metrics' paths
            return None
        if not sum_columns(columns, formats, *weights):
            name_non_finite(*columns[:3])
        return columns, matched

    return finish


# (an idle pool thread starts in about 0.1 ms; a busy one may take longer, and then this
# thread should not wait for it: the judge runs meanwhile, and finish takes the chunk back)
_START_TIMEOUT_S = 0.002
# The calling thread's chunk is this many pairs longer than the pool's (about 0.1 ms of
# kernel): a pool thread starts some 40 us later and needs the GIL for its last lines, and
# waking the caller once it is done costs as much again (a virtual machine's idle core), so
# it should be done before the caller is.
_LEAD_PAIRS = 48


def _joined(results: list[tuple]) -> tuple[np.ndarray, list[tuple[str, ...]]] | None:
    """The chunks' ``(ok, finite, columns, names)`` as one batch's ``(columns, names)``
    (None when a chunk declined)."""
    if not all(ok for ok, *_ in results):
        return None
    if len(results) == 1:
        _, finite, columns, matched = results[0]
    else:
        columns = np.concatenate([columns for _, _, columns, _ in results], axis=1)
        finite = all(finite for _, finite, _, _ in results)
        matched = [names for *_, chunk_names in results for names in chunk_names]
    if not finite:
        name_non_finite(*columns[:3])
    return columns, matched


def _run_kernel(layout: Layout, sizes: tuple[int, int], options: tuple, formats: np.ndarray,
                weights: tuple[float, float, float]):
    """One kernel call on one chunk, with this thread's scratch buffers, as long as ``sizes``
    (taken in the calling thread, within its vocabulary session): ``(ok, finite, columns,
    keyword_offsets, ranks)``."""
    (max_order, smooth, smooth_value, effective_order, mean, lower, stem, syn_start, syn_end, syn,
     alpha, beta, gamma, *keyword_options) = options
    local_of, head = scratch(sizes[0]), METEOR_KEYS.head(sizes[1])
    columns = np.empty((7, layout.hyp_group.shape[0]), dtype=np.float64)
    ok, finite, keyword_offsets, ranks = low_level_columns(
        layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
        layout.group_ref_offsets, layout.group_hyp_offsets, layout.hyp_index, layout.hyp_group,
        local_of, max_order, smooth, smooth_value, effective_order, mean, lower, stem, syn_start,
        syn_end, syn, head, alpha, beta, gamma, *keyword_options, formats, *weights, columns,
    )  # fmt: skip
    return ok, finite, columns, keyword_offsets, ranks


def _chunks(layout: Layout, parts: int, lead: int = 0) -> list[tuple[int, int, Layout]]:
    """``(lo, hi, layout)`` for at most ``parts`` chunks: hypotheses ``lo:hi`` with their
    groups' references (the whole layout when the batch is small), the first ``lead`` pairs
    longer."""
    n = layout.hyp_group.shape[0]
    bounds = chunk_bounds(n, parts, lead)
    if len(bounds) == 2:
        return [(0, n, layout)]
    return [(lo, hi, sub_layout(layout, lo, hi))
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=False)]
