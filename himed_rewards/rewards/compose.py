"""The HiMed reward: every level for a batch of completions, in a few kernel calls.

``score_batch`` extracts each report once, tokenizes and interns each report and each
distinct reference once for all metrics, lays references out once per GRPO group, then
runs BLEU, ROUGE-L, METEOR and keyword matching as batch kernels (for the common
configuration, in one kernel call with the sums: ``rewards/low_level.py``), and asks the
semantic scorer once for the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext
from functools import lru_cache
from itertools import repeat

import numpy as np

from himed_rewards.judge.verdict import SemanticVerdict
from himed_rewards.metrics._layout import Layout, layout_for_encoded
from himed_rewards.metrics.bleu import bleu_from_layout
from himed_rewards.metrics.meteor import meteor_from_layout
from himed_rewards.metrics.rouge import rouge_l_from_layout
from himed_rewards.rewards import judge_process
from himed_rewards.rewards.breakdown import RewardBreakdown
from himed_rewards.rewards.config import RewardConfig
from himed_rewards.rewards.format_batch import ParsedCompletions, parse_completions
from himed_rewards.rewards.keywords import (
    KeywordVocabulary,
    keyword_bonus_batch,
    keyword_bonus_columns,
)
from himed_rewards.rewards.low_level import name_non_finite, start_fused_columns
from himed_rewards.rewards.offline_scores import offline_scores
from himed_rewards.rewards.reasoning import reasoning_is_blank
from himed_rewards.rewards.schedule import check_step
from himed_rewards.rewards.threads import cores_lent
from himed_rewards.text.tokenizers import get_tokenizer
from himed_rewards.text.vocabulary import VOCAB

__all__ = ["score_batch", "ascore_batch", "score", "total_reward", "warmup", "default_config"]


@lru_cache(maxsize=1)
def default_config() -> RewardConfig:
    """The shared default configuration (the paper's settings, offline clinical judge)."""
    return RewardConfig()


@lru_cache(maxsize=8)
def _vocabulary(keywords: tuple[str, ...] | None) -> KeywordVocabulary:
    return KeywordVocabulary.default() if keywords is None else KeywordVocabulary(keywords)


def _check_inputs(completions: object, references: object) -> tuple[list[str], list[str]]:
    for name, value in (("completions", completions), ("references", references)):
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a sequence of str, got {type(value).__name__}")
    if len(completions) != len(references):  # type: ignore[arg-type]
        raise ValueError(
            "completions and references must have the same length, got "
            f"{len(completions)} and {len(references)}"  # type: ignore[arg-type]
        )
    for name, values in (("completions", completions), ("references", references)):
        if not all(map(str.__instancecheck__, values)):  # type: ignore[arg-type]
            i, v = next((i, v) for i, v in enumerate(values)  # type: ignore[arg-type]
                        if not isinstance(v, str))
            raise TypeError(f"{name}[{i}] must be str, got {type(v).__name__}")
    return list(completions), list(references)  # type: ignore[arg-type]


def _rows(ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """The id arrays of the given rows of a CSR layout (views, no copy)."""
    return [ids[offsets[r]:offsets[r + 1]] for r in rows.tolist()]


def _low_level(parsed: ParsedCompletions, completions: list[str], references: list[str],
               config: RewardConfig, *, background: bool = False):
    """``(formats, columns)``: the completions' format rewards, and a function that returns
    ``(columns, matched)`` (the rows of :func:`_columns` and each report's keywords). Call it
    inside ``VOCAB.session``.

    With ``background``, the one-call kernel runs on the thread pool while the caller goes
    on (the semantic level), and ``columns()`` may be called after the session: the kernel
    holds its own arrays, and when it declines the batch, the metrics' paths lay it out
    again in a session of their own (the ids of the first may have been recycled by then).
    """
    formats = parsed.formats
    if config.format_require_reasoning:  # hardened preset: <think></think> is a bad format
        formats = [-1.0 if f > 0 and reasoning_is_blank(c) else f
                   for f, c in zip(formats, completions, strict=True)]
    # One layout for every metric: each report and each distinct reference is tokenized once.
    tokenizer = get_tokenizer(config.tokenize)
    hyp_ids, hyp_offsets = parsed.encode(tokenizer)  # (before the references', as they come)
    layout = layout_for_encoded(hyp_ids, hyp_offsets, references, tokenizer,
                                parsed.encoded_references(references))
    vocabulary = _vocabulary(config.keywords)
    if _one_call_kernel(config):  # the paper's bonus on the default tokenizer's ids (the trie's)
        fused = start_fused_columns(
            layout, parsed.format_array if formats is parsed.formats else formats, config,
            vocabulary, background=background)

        def columns():
            result = fused()
            if result is not None:
                return result
            if not background:
                return _metric_columns(layout, formats, config, vocabulary, parsed, references)
            with VOCAB.session():
                again = layout_for_encoded(*parsed.encode(tokenizer), references, tokenizer)
                return _metric_columns(again, formats, config, vocabulary, parsed, references)

        return formats, columns
    result = _metric_columns(layout, formats, config, vocabulary, parsed, references)
    return formats, lambda: result


def _one_call_kernel(config: RewardConfig) -> bool:
    """Whether ``config``'s low-level reward is the one-call kernel's (``_low_level``)."""
    return (not (config.keyword_grounded or config.keyword_negation_aware)
            and config.tokenize == "default")


def _metric_columns(layout: Layout, formats: list[float], config: RewardConfig,
                    vocabulary: KeywordVocabulary, parsed: ParsedCompletions,
                    references: list[str]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """The low-level columns through the metrics' front doors: another tokenizer, the
    grounded or negation-aware bonus, or a batch the one-call kernel declines."""
    plain = not (config.keyword_grounded or config.keyword_negation_aware)
    shared_ids = config.tokenize == "default"  # the keyword trie uses the default tokenizer
    token = bleu_from_layout(layout, max_order=config.bleu_max_order, smooth=config.bleu_smooth,
                             mean=config.bleu_mean)
    rouge = rouge_l_from_layout(layout).fmeasure
    meteor = meteor_from_layout(layout, alpha=config.meteor_alpha, beta=config.meteor_beta,
                                gamma=config.meteor_gamma)
    if plain and shared_ids:  # the one-call kernel declined: a reference needs the rare LCS one
        bonuses, matched = keyword_bonus_columns(
            layout.hyp_ids, layout.hyp_offsets, vocabulary=vocabulary, beta=config.keyword_beta,
            cap=config.keyword_cap)
        return _columns(config, formats, token, rouge, meteor, bonuses), matched
    reports = parsed.reports()
    n = len(reports)
    keyword_ids = (_rows(layout.hyp_ids, layout.hyp_offsets, np.arange(n)) if shared_ids
                   else reports)
    reference_ids = None
    if not plain:
        reference_rows = layout.group_ref_offsets[layout.hyp_group]  # one reference per group
        reference_ids = (_rows(layout.ref_ids, layout.ref_offsets, reference_rows) if shared_ids
                         else references)
    bonuses = keyword_bonus_batch(
        keyword_ids, reference_ids, vocabulary=vocabulary,
        beta=config.keyword_beta, cap=config.keyword_cap, grounded=config.keyword_grounded,
        negation_aware=config.keyword_negation_aware, report_texts=reports,
        reference_texts=references,
    )
    return (_columns(config, formats, token, rouge, meteor, [b for b, _ in bonuses]),
            [m for _, m in bonuses])


def _columns(config: RewardConfig, formats: list[float], token: np.ndarray, rouge: np.ndarray,
             meteor: np.ndarray, bonuses: list[float]) -> np.ndarray:
    """The rows of ``kernels.reward.COLUMNS`` from the metrics' columns (what the one-call
    path, ``rewards.low_level``, computes in its kernel)."""
    # kernels never produce these; guard anyway (one check: the sum of scores in [0, 1] is
    # finite unless one of them is not; then name the column)
    if not np.isfinite(token + rouge + meteor).all():
        name_non_finite(token, rouge, meteor)
    # Whole columns at once, each operation in the order the per-pair formula has it (numpy's
    # float64 arithmetic is Python's, element by element): the same floats, bit for bit.
    concept_base = rouge + meteor
    bonus = np.asarray(bonuses, dtype=np.float64)
    concept = concept_base + bonus
    low = (config.w_token * token + config.w_concept * concept
           + config.w_format * np.asarray(formats, dtype=np.float64))
    return np.array([token, rouge, meteor, concept_base, bonus, concept, low], dtype=np.float64)


def _combine(config: RewardConfig, step: int, formats: list[float], columns: np.ndarray,
             matched: list[tuple[str, ...]],
             verdicts: list[SemanticVerdict] | np.ndarray | None) -> list[RewardBreakdown]:
    """The rows of the batch: ``columns`` as :func:`_columns` gives them, the semantic level's
    verdicts (or their scores, as :func:`_checked_columns` passes them), and the schedule's
    weights."""
    return _breakdowns(config, step, _low_fields(formats, columns, matched), verdicts)


def _low_fields(formats: list[float], columns: np.ndarray,
                matched: list[tuple[str, ...]]) -> tuple:
    """What the rows take from the low-level reward: its columns as lists of floats, then
    ``matched``, ``formats`` and the low-level column as an array (:func:`_breakdowns`). Made
    apart so that a call whose judge works in a helper process makes them while it waits for
    the scores, not after (its calls took 2-6 % less: docs/speed_history.md)."""
    return (*columns.tolist(), matched, formats, columns[6])


def _breakdowns(config: RewardConfig, step: int, low: tuple,
                verdicts: list[SemanticVerdict] | np.ndarray | None) -> list[RewardBreakdown]:
    """:func:`_combine` of the low-level fields ``low`` (:func:`_low_fields`)."""
    alpha1, alpha2 = (1.0, 0.0) if verdicts is None else _alphas(config, step)
    token, rouge, meteor, concept_base, bonuses, concept, low_list, matched, formats, \
        low_level = low
    n = len(formats)
    if verdicts is None:
        semantic_columns = [repeat(None)] * 5
        totals: list[float | None] = low_list
    elif isinstance(verdicts, np.ndarray):
        # what a verdict's total and the sum below do per pair, on whole columns: the same
        # float64 operations in the same order, so the same floats
        accuracy, relevance, completeness = verdicts.T
        semantic_array = accuracy + relevance + completeness
        totals = (alpha1 * low_level + alpha2 * semantic_array).tolist()
        semantic_columns = [semantic_array.tolist(), accuracy.tolist(), relevance.tolist(),
                            completeness.tolist(), repeat(None)]
    else:
        semantic = [v.total for v in verdicts]
        semantic_columns = [semantic, [v.accuracy for v in verdicts],
                            [v.relevance for v in verdicts], [v.completeness for v in verdicts],
                            [v.error for v in verdicts]]
        # a failed judge under the "skip" policy: no reward (None), never a silent 0
        totals = [None if s is None else alpha1 * x + alpha2 * s
                  for x, s in zip(low_list, semantic, strict=True)]
    rows = zip(token, rouge, meteor, concept_base, bonuses, concept, matched, formats, low_list,
               *semantic_columns, repeat(alpha1), repeat(alpha2), totals)
    # RewardBreakdown is a NamedTuple: each row, in field order, becomes one without Python code
    return list(map(tuple.__new__, repeat(RewardBreakdown, n), rows))


def _alphas(config: RewardConfig, step: int) -> tuple[float, float]:
    """The schedule's weights of the low-level and semantic rewards at ``step`` (Eq. 10)."""
    alpha1 = float(config.schedule.alpha1(step))
    return alpha1, 1.0 - alpha1


def _with_verdicts(breakdowns: list[RewardBreakdown], verdicts: list[SemanticVerdict],
                  config: RewardConfig, step: int) -> list[RewardBreakdown]:
    """Low-level breakdowns (``semantic=None``) with a semantic level scored elsewhere added:
    the same arithmetic as :func:`score_batch` (a ParallelScorer's in-process judge)."""
    alpha1, alpha2 = _alphas(config, step)
    out = []
    for b, verdict in zip(breakdowns, verdicts, strict=True):
        semantic = verdict.total
        total = None if semantic is None else alpha1 * b.low_level + alpha2 * semantic
        out.append(b._replace(semantic=semantic, semantic_accuracy=verdict.accuracy,
                              semantic_relevance=verdict.relevance,
                              semantic_completeness=verdict.completeness,
                              semantic_error=verdict.error, alpha1=alpha1, alpha2=alpha2,
                              total=total))
    return out


def _checked_verdicts(verdicts: object, n: int, scorer: object) -> list[SemanticVerdict]:
    if not isinstance(verdicts, list) or len(verdicts) != n:
        raise RuntimeError(f"semantic scorer {scorer!r} must return a list of {n} verdicts")
    return verdicts


def _semantic(scorer: object, parsed: ParsedCompletions, references: list[str]
              ) -> list[SemanticVerdict] | np.ndarray:
    """The semantic level's verdicts, or their scores when the scorer offers
    ``score_columns`` (the offline clinical judge: no verdict object per pair; read from the
    parse's bytes, ``rewards.offline_scores``)."""
    n = len(references)
    if getattr(scorer, "score_columns", None) is not None:
        return _checked_columns(offline_scores(scorer, parsed, references), n, scorer)
    return _checked_verdicts(scorer.score_batch(parsed.reports(), references), n, scorer)


_AXES = ("accuracy", "relevance", "completeness")


def _checked_columns(scores: object, n: int, scorer: object) -> np.ndarray:
    """A scorer's ``score_columns`` result, held to what a :class:`SemanticVerdict` holds its
    scores to (finite, in [0, 1])."""
    if not (isinstance(scores, np.ndarray) and scores.dtype == np.float64
            and scores.shape == (n, 3)):
        raise RuntimeError(f"semantic scorer {scorer!r}: score_columns must return a float64 "
                           f"array of shape ({n}, 3)")
    inside = (scores >= 0.0) & (scores <= 1.0)  # (NaN fails both)
    if not inside.all():
        row, axis = (int(k) for k in np.argwhere(~inside)[0])
        raise ValueError(f"semantic scorer {scorer!r}: {_AXES[axis]} of pair {row} must be a "
                         f"finite number in [0, 1], got {float(scores[row, axis])!r}")
    return scores


def score_batch(completions: Sequence[str], references: Sequence[str], *, step: int = 0,
                config: RewardConfig | None = None) -> list[RewardBreakdown]:
    """Score many completions, each against its reference (``references[i]``).

    Args:
        completions: the policy's outputs (``<think>``/``<finding>``/``<impression>``).
        references: the ground-truth reports, aligned with ``completions``.
        step: the training step, for the alpha schedule.
        config: a :class:`RewardConfig`; None uses the defaults.

    Examples:
        >>> from himed_rewards import RewardConfig
        >>> c = "<think>clear</think><finding>Lungs are clear.</finding><impression>Normal.</impression>"
        >>> [b] = score_batch([c], ["Lungs are clear. Normal chest."], config=RewardConfig(semantic=None))
        >>> b.format, b.total == b.low_level, b.alpha1
        (1.0, True, 1.0)
    """
    config, step, completions, references = _prepare(completions, references, step, config)
    return _score_here(config, step, completions, references)


def _score_here(config: RewardConfig, step: int, completions: list[str],
                references: list[str]) -> list[RewardBreakdown]:
    """:func:`score_batch` of checked arguments, with a semantic scorer that does not wait on
    anything (the offline judge, or none)."""
    scorer = config.semantic
    # a big batch goes to the offline judge's helper process once parsed, if one is ready
    # (rewards/judge_process.py); this process meanwhile computes the low-level reward on one
    # thread fewer, leaving the helper's core to it
    # (the parse then writes the reports' bytes where the helper reads them:
    # rewards/judge_request.py)
    parsed, offload = ((None, None) if scorer is None
                       else judge_process.begin(scorer, completions, references))
    try:
        with VOCAB.session(), (nullcontext() if offload is None else cores_lent(1)):
            # (token ids stay valid inside the session: see text.vocabulary)
            if parsed is None:  # (in the session: the parse may look the reports' ids up too)
                parsed = parse_completions(completions, encode=config.tokenize == "default",
                                           references=references)
            formats, low_columns = _low_level(parsed, completions, references, config,
                                              background=scorer is not None and offload is None)
            if scorer is None:
                return _combine(config, step, formats, *low_columns(), None)
        # The judge runs outside the session (a slow LLM judge must not hold off the
        # vocabulary's recycling) while the low-level kernel works on the pool's threads;
        # or the helper's answer is taken.
        if offload is None:
            verdicts = _semantic(scorer, parsed, references)
            return _combine(config, step, formats, *low_columns(), verdicts)
        low = _low_fields(formats, *low_columns())  # (the helper judges meanwhile)
        verdicts = _checked_columns(
            offload.result(lambda: offline_scores(scorer, parsed, references)),
            len(completions), scorer)
        return _breakdowns(config, step, low, verdicts)
    finally:
        if offload is not None:
            offload.abandon()  # (a no-op once its result is in)


async def ascore_batch(completions: Sequence[str], references: Sequence[str], *, step: int = 0,
                       config: RewardConfig | None = None) -> list[RewardBreakdown]:
    """:func:`score_batch` for event loops: an async judge's requests run concurrently.

    Examples:
        >>> import asyncio
        >>> [b] = asyncio.run(ascore_batch(["No effusion."], ["No pleural effusion."]))
        >>> b.format
        -1.0
    """
    config, step, completions, references = _prepare(completions, references, step, config)
    scorer = config.semantic
    ascore = None if scorer is None else getattr(scorer, "ascore_batch", None)
    if ascore is None or getattr(scorer, "score_columns", None) is not None:
        return _score_here(config, step, completions, references)  # (nothing to await)
    parsed = parse_completions(completions)
    with VOCAB.session():
        # (an awaited judge takes seconds: the kernel is done by then, on this thread's time)
        formats, low_columns = _low_level(parsed, completions, references, config)
        low = low_columns()
    reports = parsed.reports()
    verdicts = _checked_verdicts(await ascore(reports, references), len(reports), scorer)
    return _combine(config, step, formats, *low, verdicts)


def _prepare(completions: object, references: object, step: object, config: object):
    """Validate the arguments."""
    config = default_config() if config is None else _check_config(config)
    step = check_step(step)
    completions, references = _check_inputs(completions, references)
    return config, step, completions, references


def _check_config(config: object) -> RewardConfig:
    if not isinstance(config, RewardConfig):
        raise TypeError(f"config must be a RewardConfig or None, got {type(config).__name__}")
    return config


def score(completion: str, reference: str, *, step: int = 0,
          config: RewardConfig | None = None) -> RewardBreakdown:
    """Every level of the reward for one completion.

    Examples:
        >>> b = score("<think>x</think><finding>Mild cardiomegaly.</finding><impression>Cardiomegaly.</impression>",
        ...           "Mild cardiomegaly. No effusion.")
        >>> b.format, "cardiomegaly" in b.matched_keywords, 0 <= b.semantic <= 3
        (1.0, True, True)
    """
    if not isinstance(completion, str):
        raise TypeError(f"completion must be str, got {type(completion).__name__}")
    if not isinstance(reference, str):
        raise TypeError(f"reference must be str, got {type(reference).__name__}")
    return score_batch([completion], [reference], step=step, config=config)[0]


def total_reward(completion: str, reference: str, *, step: int = 0,
                 config: RewardConfig | None = None) -> float | None:
    """The scalar reward (Eq. 9); None only when a failing judge's policy is ``skip``.

    Examples:
        >>> r = total_reward("<think>x</think><finding>Lungs clear.</finding><impression>Normal.</impression>",
        ...                  "Lungs are clear.")
        >>> isinstance(r, float)
        True
    """
    return score(completion, reference, step=step, config=config).total


def warmup(background: bool = False) -> float:
    """Compile (or load from the numba cache) every kernel the reward uses; returns seconds.

    Call it once before training so the first GRPO step does not pay the compile. With an
    empty cache and an idle core, a helper process compiles the kernel list from its middle
    while this one compiles from its start (``himed_rewards.kernels._precompile``); processes
    warming up together on one cache (a pool's workers) each compile what no other is
    compiling, then load the rest.
    ``background=True`` returns at once instead, leaving the compiles to helper processes
    (on a cold cache with a spare core; they stop when this process exits): call it right
    after import, before loading a model, so the first reward finds the cache warm.

    Examples:
        >>> warmup() >= 0.0
        True
    """
    from himed_rewards.kernels import _config
    from himed_rewards.kernels._precompile import compile_entries, entries, start_helpers

    start = time.perf_counter()
    if background:
        _config._helpers_checked[0] = True  # the helpers below share the whole list
        start_helpers(alone=True)
        return time.perf_counter() - start
    found = entries()
    # First what no other process is compiling (several workers warming up together on an
    # empty cache split the list this way), then the rest: loaded once their files are there.
    # (compile_entries swaps the dispatchers in, which ends the interpreter tier of a cold
    # cache: kernels/_interpret.py)
    compile_entries(found, skip_claimed=True)
    compile_entries(found)
    # METEOR's Porter kernel is not on the list (a first call stems in the interpreter rather
    # than wait 2.5 s for it, and the helpers leave it alone); a warmed-up run uses it
    from himed_rewards.text.wordnet import use_stem_kernel

    use_stem_kernel()
    # the offline judge's kernel, which a process only uses once compiled (clinical/encoded.py)
    from himed_rewards.clinical.encoded import use_judge_kernel

    use_judge_kernel()
    score_batch(["<think>a</think><finding>b c</finding><impression>d</impression>", "b"],
                ["b c d", "b c d"], config=RewardConfig(semantic=None))
    return time.perf_counter() - start


