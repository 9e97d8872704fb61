"""The clinical judge's batch path: sentences written as numbers, merged and scored compiled.

``OfflineClinicalJudge.score_batch`` spends most of its time, on fresh reports, merging the
facts of each report's sentences into finding states and scoring pairs of states in the
interpreter (about 9 us of 15 per pair). Here each sentence's facts are written once, when
first met, as a record in one float64 array (layout in ``kernels/clinical.py``), and
:func:`judge_texts` hands a batch's reports, as lists of records, to one kernel call that
merges and scores them. The Python functions of ``attributes`` and ``judge`` stay the
reference: the kernel repeats their arithmetic in their order, and the tests compare the
two on real and generated reports, float for float.

When: the kernel takes about 6 s of CPU to compile, more than the rest of a cold start, so
a process uses it once it is compiled or in the disk cache (:func:`kernel_ready`): at once
after ``warmup()`` (:func:`use_judge_kernel`) or when an earlier process or a compile helper
put it there (the helpers compile it after the reward's own kernels, see
``kernels/_precompile.py``); until then the judge scores in the interpreter, with the same
results.

A record is found by the identity of its ``SentenceFacts`` (the sentence caches hand out
the same object for the same sentence); the store keeps every object it wrote so that an
identity is never reused while its record is held, and starts afresh when it holds
:data:`_MAX_SENTENCES` records.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from itertools import chain

import numpy as np

from himed_rewards.clinical import judge as _judge_module
from himed_rewards.clinical.attachment import DEVICE
from himed_rewards.clinical.labeler import PATHOLOGIES
from himed_rewards.clinical.rules import RULES
from himed_rewards.clinical.sentences import SentenceFacts, reports_sentences
from himed_rewards.kernels.clinical import judge_reports

__all__ = ["FINDINGS", "judge_texts", "kernel_ready", "use_judge_kernel"]


def _finding_names() -> tuple[str, ...]:
    names = {"no_finding", RULES.other, DEVICE, "pneumothorax", "x:lucency",
             *RULES.findings, *PATHOLOGIES, *_judge_module._WEIGHTS, *_judge_module._SAME_AS,
             *_judge_module._SAME_AS.values(), *_judge_module._CHILDREN}
    for children in _judge_module._CHILDREN.values():
        names.update(children)
    stack = [RULES.mention_trie]
    while stack:
        node = stack.pop()
        for key, value in node.items():
            if key:
                stack.append(value)
            else:
                names.update(value.findings)
    return tuple(sorted(names))


#: Every finding name a sentence can state, in the order of their ids.
FINDINGS = _finding_names()
_ID = {name: k for k, name in enumerate(FINDINGS)}
_POLARITY = {"negative": 0, "uncertain": 1, "positive": 2}
# hit kind -> (its code in kernels/clinical.py, its value's code; None: a number)
_HITS = {
    "side": (1, {"left": 0, "right": 1, "both": 2}),
    "zone": (2, {"central": 1, "lower": 2, "middle": 3, "upper": 4}),
    "change": (3, {"improved": 1, "new": 2, "stable": 3, "worsened": 4}),
    "severity": (4, None),
    "size": (5, None),
    "dominant": (6, {"left": 1, "right": 2}),
    "position": (7, {"ok": 1, "malpositioned": 2}),
}


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
# The store starts afresh beyond this many records (each is a few dozen floats).
_MAX_SENTENCES = 65_536


class _Store:
    """Sentence records in one growing float64 array, found by their facts' identity."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.blob = np.zeros(1 << 16, np.float64)
        self.fill = 0
        self.starts = np.zeros(1 << 12, np.int64)
        self.codes: dict[int, int] = {}  # id(facts) -> record number
        self.kept: list[SentenceFacts] = []  # the facts of each record (keeps their ids)
        self.keys: dict[tuple[str, ...], int] = {}  # a sentence's tokens -> their id

    def numbers(self, facts: list[SentenceFacts]) -> list[int]:
        """The record number of each of ``facts``, writing the records of those met for the
        first time (KeyError: a name the kernel does not know; the caller then uses the
        Python path)."""
        numbers = list(map(self.codes.get, map(id, facts)))
        if None not in numbers:
            return numbers
        try:
            return self._write(facts, numbers)
        except Exception:
            self.reset()  # (numbers handed out for records never written)
            raise

    def _write(self, facts: list[SentenceFacts], numbers: list[int | None]) -> list[int]:
        records: list[float] = []
        starts: list[int] = []
        at = self.fill
        kept, codes = self.kept, self.codes
        k = numbers.index(None)
        while True:  # (a C-level search for each record to write, not a loop over all)
            one = facts[k]
            number = codes.get(id(one))  # (met twice in this batch)
            if number is None:
                number = codes[id(one)] = len(kept)
                kept.append(one)
                starts.append(at + len(records))
                self._record(one, records)
            numbers[k] = number
            try:
                k = numbers.index(None, k + 1)
            except ValueError:
                break
        size = len(records)
        if at + size > len(self.blob):
            self.blob = np.concatenate([self.blob, np.zeros(max(len(self.blob), size))])
        self.blob[at:at + size] = records
        self.fill = at + size
        first = len(kept) - len(starts)
        if len(kept) > len(self.starts):
            self.starts = np.concatenate([self.starts, np.zeros(len(kept), np.int64)])
        self.starts[first:len(kept)] = starts
        return numbers

    def _record(self, facts: SentenceFacts, record: list[float]) -> None:
        _, normal, gathered, keys, content, significant, polarities, abnormal = facts
        keys_id = self.keys.get(keys)
        if keys_id is None:
            keys_id = self.keys[keys] = len(self.keys)
        ids, polarity = _ID, _POLARITY
        record += (normal | content << 1 | significant << 2 | abnormal << 3, keys_id,
                   len(polarities))
        for finding, said in polarities:
            record += (ids[finding], polarity[said])
        record.append(len(gathered))
        for (_, _, findings, said), hits in gathered:
            if len(set(findings)) != len(findings):
                raise KeyError(findings)  # (never: each name once per mention)
            record += (polarity[said], len(findings), *[ids[f] for f in findings], len(hits))
            for kind, value in hits:
                code, values = _HITS[kind]
                record += (code, float(value) if values is None else values[value])


_STORE = _Store()


def judge_texts(texts: Sequence[str], cand: Sequence[int], ref: Sequence[int]) -> list[list[float]]:
    """``[accuracy, relevance, completeness]`` of each pair ``(texts[cand[k]],
    texts[ref[k]])``, as ``judge.judge_states`` of their canonical states gives them.

    Raises:
        KeyError: a sentence names what the kernel's tables lack (never with the shipped
            rules; the judge then scores the batch in the interpreter).

    Examples:
        >>> judge_texts(["Large left pleural effusion.", "Large right pleural effusion."],
        ...             [0, 1], [0, 0])[1] == [0.3863636363636364, 1.0, 0.25]
        True
    """
    store = _STORE
    if len(store.kept) > _MAX_SENTENCES:
        store.reset()
    reports = reports_sentences(list(texts))
    numbers = store.numbers(list(chain.from_iterable(reports)))
    bounds = np.zeros(len(reports) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, reports), np.int64, len(reports)), out=bounds[1:])
    out = judge_reports(store.blob[:store.fill], store.starts[:len(store.kept)], bounds[:-1],
                        bounds[1:], np.array(numbers, np.int64), np.asarray(cand, np.int64),
                        np.asarray(ref, np.int64), *_TABLES)
    return out.tolist()


# readiness of the kernel: compiled or loadable (checked at most once a second: a disk read)
_READY = {"ready": False, "checked": -1.0}
_READY_LOCK = threading.Lock()
_RECHECK_S = 1.0


def _call_types() -> tuple:
    """The numba types of the arguments :func:`judge_texts` passes (one tiny call's)."""
    from numba import typeof

    bounds = np.zeros(2, np.int64)
    one = np.zeros(1, np.int64)
    args = (np.zeros(4, np.float64)[:2], one[:1], bounds[:-1], bounds[1:], np.array([0], np.int64),
            np.asarray([0], np.int64), np.asarray([0], np.int64), *_TABLES)
    return tuple(typeof(a) for a in args)


def _dispatcher():
    from himed_rewards.kernels import clinical
    from himed_rewards.kernels._config import LazyKernel, materialise

    target = clinical.judge_reports
    return materialise(target) if isinstance(target, LazyKernel) else target


def kernel_ready() -> bool:
    """Whether the judge's kernel can run without compiling: this process compiled or loaded
    it, or the disk cache holds it (then the next call loads it). False until numba is in
    use in this process (nothing is imported or compiled for the question).

    Examples:
        >>> isinstance(kernel_ready(), bool)
        True
    """
    if _READY["ready"]:
        return True
    if "numba" not in sys.modules or getattr(sys.modules["numba"], "njit", None) is None:
        return False
    now = time.monotonic()
    with _READY_LOCK:
        if now - _READY["checked"] < _RECHECK_S and _READY["checked"] >= 0:
            return False
        _READY["checked"] = now
        try:
            from himed_rewards.kernels._precompile import compiled_or_cached

            ready = compiled_or_cached(_dispatcher(), _call_types())
        except Exception:  # (no disk cache, JIT disabled...): the interpreter's path
            ready = False
        _READY["ready"] = ready
    return ready


def use_judge_kernel() -> None:
    """Compile the judge's kernel now (or load it from the disk cache) and use it from now
    on: ``warmup()`` calls it.

    Examples:
        >>> use_judge_kernel(); kernel_ready()
        True
    """
    judge_texts(["Small left pleural effusion.", "No effusion."], [0], [1])
    _READY["ready"] = True
