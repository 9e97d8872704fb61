"""The clinical judge's batch path: sentences as records of numbers, merged and scored compiled.

``OfflineClinicalJudge.score_batch`` spent most of its time, on fresh reports, merging the
facts of each report's sentences into finding states and scoring pairs of states in the
interpreter. Here each sentence's facts are a record written once (``clinical/records.py``),
and :func:`judge_texts` hands a batch's reports, as lists of records, to one kernel call that
merges and scores them (``kernels/clinical.py``). The Python functions of ``attributes`` and
``judge`` stay the reference: the kernel repeats their arithmetic in their order, and the
tests compare the two on real and generated reports, float for float.

When: the kernels take about 6-10 s of CPU to compile, more than the rest of a cold start,
so a process uses them once they are compiled or in the disk cache (:func:`kernel_ready`): at
once after ``warmup()`` (:func:`use_judge_kernel`) or when an earlier process or a compile
helper put them there (the helpers compile them after the reward's own kernels, or first for
a process that uses the judge alone, see ``kernels/_precompile.py``); until then the judge
scores in the interpreter, with the same results. A process that uses the judge alone has no
other reason to import numba: it asks once the interpreter's path has cost
:data:`INTERPRETER_BUDGET_S`. Where no helper could put them there (every core busy, helpers
turned off), the process compiles them itself once the interpreter's path has cost what the
compile does (:func:`compile_budget_s`): before, such a process judged in the interpreter
for good.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from himed_rewards.clinical import judge as _judge_module
from himed_rewards.clinical.attachment import DEVICE
from himed_rewards.clinical.labeler import PATHOLOGIES
from himed_rewards.clinical.records import _ID, _POLARITY, FINDINGS, Cut, _Store
from himed_rewards.clinical.rules import RULES
from himed_rewards.clinical.sentences import on_clear
from himed_rewards.kernels import _interpret
from himed_rewards.kernels.clinical import judge_reports

__all__ = ["HELPERS_RETRY_S", "INTERPRETER_BUDGET_S", "add_interpreted", "compile_budget_s",
           "interpreted_s", "judge_array", "judge_lowered", "judge_texts", "kernel_ready",
           "learn_texts", "use_judge_kernel"]


def _tables() -> tuple:
    """The judge's constants as the kernel's arrays (from ``clinical.judge``, its reference)."""
    n = len(FINDINGS)
    weights = np.array([_judge_module._WEIGHTS.get(f, 1.0) for f in FINDINGS], np.float64)
    is_finding = np.zeros(n, np.int64)
    for f, k in _ID.items():
        if f in PATHOLOGIES or f.startswith("x:"):
            is_finding[k] |= 1
        if f in _judge_module._CHILDREN:
            is_finding[k] |= 2

    def csr(mapping: dict[str, tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi, flat = np.zeros(n, np.int64), np.zeros(n, np.int64), []
        for f, k in _ID.items():
            lo[k] = len(flat)
            flat += [_ID[x] for x in mapping.get(f, ())]
            hi[k] = len(flat)
        return lo, hi, np.array(flat or [0], np.int64)

    child_lo, child_hi, children = csr(_judge_module._CHILDREN)
    parent_lo, parent_hi, parents = csr(_judge_module._PARENTS)
    same_as = np.array([_ID[_judge_module._SAME_AS.get(f, f)] for f in FINDINGS], np.int64)
    agree = np.zeros((3, 3), np.float64)
    for (c, r), value in _judge_module._AGREEMENT.items():
        agree[_POLARITY[c], _POLARITY[r]] = value
    recall = np.array([_judge_module._RECALL_NEGATION[p] for p in _POLARITY], np.float64)
    constants = np.array([_ID["no_finding"], _ID[RULES.other], _ID[DEVICE], _ID["x:lucency"],
                          _ID["pneumothorax"]], np.int64)
    return (np.int64(n), constants, weights, is_finding, child_lo, child_hi, children,
            parent_lo, parent_hi, parents, same_as, agree, recall)


_TABLES = _tables()
_STORE = _Store()
_STORE_LOCK = threading.RLock()
on_clear(lambda: _locked(_STORE.reset))  # sentences.clear_caches forgets the records too


def _locked(action) -> None:
    with _STORE_LOCK:
        action()


def judge_texts(texts: Sequence[str], cand: Sequence[int], ref: Sequence[int]) -> list[list[float]]:
    """``[accuracy, relevance, completeness]`` of each pair ``(texts[cand[k]],
    texts[ref[k]])``, as ``judge.judge_states`` of their canonical states gives them
    (:func:`judge_array`'s rows as lists).

    Raises:
        KeyError: a sentence names what the kernel's tables lack (never with the shipped
            rules; the judge then scores the batch in the interpreter).

    Examples:
        >>> from himed_rewards.clinical.attributes import describe_report as d
        >>> from himed_rewards.clinical.judge import judge_states
        >>> left, right = "Large left pleural effusion.", "Large right pleural effusion."
        >>> scores = judge_texts([left, right], [0, 1], [0, 0]); scores
        [[1.0, 1.0, 1.0], [0.38636363636363635, 1.0, 0.25]]
        >>> tuple(scores[1]) == judge_states(d(right), d(left))  # the same floats
        True
    """
    return judge_array(texts, cand, ref).tolist()


def judge_array(texts: Sequence[str], cand: Sequence[int], ref: Sequence[int]) -> np.ndarray:
    """:func:`judge_texts` as a float64 array of shape ``(len(cand), 3)``: what the reward's
    columns take without a Python float per score.

    Raises:
        KeyError: as :func:`judge_texts`.

    Examples:
        >>> judge_array(["Large left pleural effusion.", "No effusion."], [0, 1], [0, 0]).shape
        (2, 3)
    """
    return _judged(lambda store: store.reports(texts), cand, ref)


def judge_lowered(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, plain: Sequence[int],
                  n_texts: int, text: Callable[[int], str], cand: Sequence[int],
                  ref: Sequence[int], cut: Cut | None = None) -> np.ndarray:
    """:func:`judge_array` of ``n_texts`` texts whose lowercased ASCII bytes are already in
    ``buf``, text ``plain[j]``'s being ``buf[starts[j]:ends[j]]``; ``text(k)`` gives text
    ``k`` itself (needed for those not in ``plain``, and for the few that hold another
    sentence break than "."). The reward's front door: a batch's reports as the completions'
    parse holds them, with no string built per report (``rewards.offline_scores``). ``cut``:
    ``records.cut_sentences(buf, starts, ends)``, when the caller has it (the judge's
    helper process is handed it with a batch: ``rewards.judge_request``).

    Raises:
        KeyError: as :func:`judge_texts`.

    Examples:
        >>> texts = ["Large left pleural effusion.", "No effusion."]
        >>> buf = np.frombuffer("".join(texts).lower().encode("ascii"), np.uint8)
        >>> scores = judge_lowered(buf, np.array([0, 28]), np.array([28, 40]), [0, 1], 2,
        ...                        texts.__getitem__, [0, 1], [0, 0])
        >>> scores.tolist() == judge_array(texts, [0, 1], [0, 0]).tolist()
        True
    """
    return _judged(lambda store: store.reports_in(buf, starts, ends, plain, n_texts, text,
                                                  cut=cut), cand, ref)


def learn_texts(texts: Sequence[str]) -> None:
    """Write the records of the sentences of ``texts`` met for the first time, so that a
    batch holding them finds them written: what :func:`judge_array` does before its kernel,
    without the kernel (the offline judge's helper process learns a batch's references while
    the caller parses the completions, ``rewards/_judge_worker.py``; the kernel, called for
    no pair, still read every report, 70 us for a GRPO step's 32 references).

    Raises:
        KeyError: as :func:`judge_texts`.

    Examples:
        >>> learn_texts(["Large left pleural effusion.", "No effusion."])
        >>> judge_array(["Large left pleural effusion."], [0], [0]).tolist()
        [[1.0, 1.0, 1.0]]
    """
    with _STORE_LOCK:
        _records(lambda store: store.reports(texts))


def _judged(records_of, cand: Sequence[int], ref: Sequence[int]) -> np.ndarray:
    """The kernel's scores of the pairs ``(cand[k], ref[k])`` of the texts whose records
    ``records_of(store)`` gives (``(records, lo, hi)``, see ``_Store.reports``)."""
    with _STORE_LOCK:  # (threads of a server share the store: one batch at a time)
        records, lo, hi = _records(records_of)
        store = _STORE
        out = judge_reports(store.blob[:store.fill], store.starts[:store.count], lo, hi,
                            records, np.asarray(cand, np.int64), np.asarray(ref, np.int64),
                            *_TABLES)
    return out


def _records(records_of) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``records_of(store)``, the store started afresh first when full, and after a failure
    (records numbered but not written, ids without records...). Hold ``_STORE_LOCK``."""
    store = _STORE
    if store.full():
        store.reset()
    try:
        return records_of(store)
    except Exception:
        store.reset()
        raise


# readiness of the kernel: compiled or loadable (checked at most once a second: a disk read)
# (the first check waits a second after import: a process's first, often tiny, call is not
# worth the ~0.1 s that reading numba's index and the machine's features costs)
# ("asked_alone": asked once while numba was not in use: see kernel_ready; "helpers_at": when
# compile helpers may be started again; "compiling": a thread compiles the kernels here now;
# "compile_failed": it could not, and the judge stays in the interpreter)
_READY = {"ready": False, "checked": time.monotonic(), "asked_alone": False, "helpers_at": 0.0,
          "compiling": False, "compile_failed": False}
_READY_LOCK = threading.Lock()
_RECHECK_S = 1.0
#: Seconds between two attempts to start compile helpers while the kernels are missing from
#: the cache (a helper starts only on an idle core: one may have become idle since).
HELPERS_RETRY_S = 10.0
#: CPU seconds the interpreter's path may spend on batches the kernel could take before a
#: process that has not imported numba (one that uses the judge alone: an evaluation script,
#: a reward of the user's own) asks whether the kernels are in the disk cache. Asking imports
#: numba, and the kernels then load: 0.6-0.7 s in all, measured, against 24-35 us a pair in
#: the interpreter and 8-13 with the kernels on fresh GRPO batches. So the ski-rental rule: a
#: short evaluation pays nothing, a long one at most about twice the best choice. (A reward
#: process has numba in use from its first low-level call, and asks at once.)
INTERPRETER_BUDGET_S = 0.7
_INTERPRETED = {"s": 0.0}


def compile_budget_s() -> float:
    """CPU seconds the interpreter's path may spend on batches the kernel could take, while
    the disk cache lacks the kernels, before this process compiles them itself: what that
    compile costs (``kernels/_signatures.py``'s BACKGROUND, as ``scripts/kernel_signatures.py``
    measured it; about 10 s). The ski-rental rule again: compile helpers on idle cores cost
    nothing, so they come first; where none can start (every core busy, helpers turned off)
    a long run pays at most about twice the best choice, instead of the interpreter's 2-3
    times the kernel's cost for good.

    Examples:
        >>> 1.0 < compile_budget_s() < 60.0
        True
    """
    from himed_rewards.kernels._precompile import background_specs

    return sum(float(spec[3]) for spec in background_specs())


def add_interpreted(seconds: float) -> None:
    """Count ``seconds`` of the interpreter's path on a batch the kernel could have judged
    (towards :data:`INTERPRETER_BUDGET_S` and :func:`compile_budget_s`).

    Examples:
        >>> add_interpreted(0.0); interpreted_s() >= 0.0
        True
    """
    _INTERPRETED["s"] += seconds  # (two threads may lose an addition: a budget, not a bill)


def interpreted_s() -> float:
    """CPU seconds counted by :func:`add_interpreted` in this process."""
    return _INTERPRETED["s"]


def _numba_in_use() -> bool:
    numba = sys.modules.get("numba")
    return numba is not None and getattr(numba, "njit", None) is not None


def _calls() -> list[tuple]:
    """``(dispatcher, numba types of its arguments)`` of each kernel :func:`judge_texts`
    and the reward's front door to it (``rewards.offline_scores``) call that the reward's
    own calls do not compile (one tiny call's types)."""
    from numba import typeof

    from himed_rewards.clinical.templates import Templates
    from himed_rewards.kernels import clinical, completion, records, sentence_table, sentences
    from himed_rewards.kernels import templates as template_kernels
    from himed_rewards.kernels._config import dispatcher_of

    bounds = np.zeros(2, np.int64)
    one = np.zeros(1, np.int64)
    judge_args = (np.zeros(4, np.float64)[:2], one[:1], bounds[:-1], bounds[1:],
                  np.array([0], np.int64), np.asarray([0], np.int64), np.asarray([0], np.int64),
                  *_TABLES)
    buf = np.frombuffer(b"a.", np.uint8)
    split_args = (buf, one, one, one, one, one, np.empty(1, np.uint8))
    table = np.full((2, 2), -1, np.int64)
    intern_args = (buf, one, one, one, np.zeros(1, np.uint8), table, table, 0, 0)
    calls = []
    for target, args in ((completion.report_texts, _gather_args()),
                         (sentences.sentence_spans, split_args),
                         (sentence_table.intern_sentences, intern_args),
                         (sentence_table.rehash_sentences, (table, table)),
                         (records.first_new_sentences, (one, one, one)),
                         (records.records_by_text, (one, one, one, one, one, one, one)),
                         (template_kernels.template_records,
                          Templates().arguments(buf, one, one, 1.0)),
                         (clinical.judge_reports, judge_args)):
        calls.append((dispatcher_of(target), tuple(typeof(a) for a in args)))
    return calls


def _gather_args() -> tuple[np.ndarray, ...]:
    """A tiny call's arguments of ``kernels.completion.report_texts``, as the reward's front
    door to the judge makes them (``rewards.offline_scores``: the parse's bytes read-only)."""
    lowered = np.empty(1, np.uint8)
    lowered.setflags(write=False)
    one = np.empty(1, np.int64)
    return lowered, np.full((1, 4), -1, np.int64), np.empty(2, np.uint8), one, one


def kernel_ready() -> bool:
    """Whether the judge's kernel can run without compiling: this process compiled or loaded
    it, or the disk cache holds it (then the next call loads it). In a process that has not
    imported numba, False without asking until the interpreter's path has spent
    :data:`INTERPRETER_BUDGET_S` (asking imports numba). While the cache lacks the kernels,
    compile helpers are started on idle cores (again every :data:`HELPERS_RETRY_S`, if none
    could start), and a later call finds the kernels there; once the interpreter's path has
    spent :func:`compile_budget_s`, this call compiles them itself and answers True.

    Examples:
        >>> isinstance(kernel_ready(), bool)
        True
    """
    if _READY["ready"]:
        return True
    in_use = _numba_in_use()
    if not in_use and (_INTERPRETED["s"] < INTERPRETER_BUDGET_S or _READY["asked_alone"]):
        # (the question would import numba: see INTERPRETER_BUDGET_S; asked once already
        # and numba still not in use: it failed to import, and would fail again)
        return False
    if _interpret.active():  # the kernels run in the interpreter for now: not worth it
        return False
    now = time.monotonic()
    with _READY_LOCK:
        if now - _READY["checked"] < _RECHECK_S or _READY["compiling"]:
            return False
        _READY["checked"] = now
        try:
            from himed_rewards.kernels._precompile import compiled_or_cached

            ready = all(compiled_or_cached(dispatcher, args) for dispatcher, args in _calls())
        except Exception:  # (no disk cache, JIT disabled...): the interpreter's path
            ready = False
        _READY["ready"] = ready
        if ready:
            # The next call loads them. A process whose first kernel call this is (the judge
            # alone) would otherwise let the interpreter tier decide by the reward's list,
            # still cold while a helper compiles it, and interpret the judge's kernels, then
            # compile that list here (measured: 1.5 s, then 6.7 s): kernels/_interpret.py
            _interpret.stop()
            return True
        if not in_use:
            _READY["asked_alone"] = True  # (asked once; if numba failed to import, never again)
        # (while this process's compile helpers run, they are on their way to the judge's
        # kernels: a compile here would wait for theirs rather than interpret meanwhile)
        compile_here = (not _READY["compile_failed"] and not _helpers_running()
                        and _INTERPRETED["s"] >= compile_budget_s())
        if compile_here:
            _READY["compiling"] = True  # (other threads judge in the interpreter meanwhile)
        elif now >= _READY["helpers_at"]:
            _READY["helpers_at"] = now + HELPERS_RETRY_S
            _start_compile_helpers()
    return compile_here and _compile_here()


def _start_compile_helpers() -> None:
    from himed_rewards.kernels._precompile import start_helpers

    # (only idle cores: this process goes on interpreting; the judge's kernels first, the
    # only ones it waits for, then the reward's; none when this process's own helpers still
    # run, or the cache lacks nothing; start_helpers never raises: where none can start,
    # compile_budget_s has this process compile them)
    start_helpers(busy=True, background_first=True)


def _helpers_running() -> bool:
    from himed_rewards.kernels._precompile import helpers_running  # (imports no numba)

    return helpers_running()


def _compile_here() -> bool:
    """Compile (or load) the judge's kernels in this process (:func:`kernel_ready`, once the
    interpreter's path has spent what the compile costs); whether they are ready. A kernel a
    helper is compiling right now is waited for, not compiled twice (``kernels/_claims.py``)."""
    try:
        use_judge_kernel()
    except Exception:  # (numba broken, no compiler...): the interpreter's path for good
        _READY["compile_failed"] = True
    finally:
        _READY["compiling"] = False
    return bool(_READY["ready"])


def use_judge_kernel() -> None:
    """Compile the judge's kernel now (or load it from the disk cache) and use it from now
    on: ``warmup()`` calls it.

    Examples:
        >>> use_judge_kernel(); kernel_ready()
        True
    """
    from himed_rewards.kernels import sentence_table
    from himed_rewards.kernels.completion import report_texts

    _interpret.stop()  # compiled from now on, this kernel and the others
    judge_texts(["Small left pleural effusion.", "No effusion."], [0], [1])
    report_texts(*_gather_args())  # (the reward's front door: rewards.offline_scores)
    grown = np.full((2, 2), -1, np.int64)  # (called when the sentence table grows)
    sentence_table.rehash_sentences(grown, grown.copy())
    _READY["ready"] = True
