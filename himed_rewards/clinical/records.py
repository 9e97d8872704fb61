"""The judge's sentence records: what each sentence says, written once as numbers.

``clinical/encoded.py`` scores a batch with one kernel call (``kernels/clinical.py``), which
reads each report as the list of its sentences' records. A record holds what
``attributes._describe_with_filler`` reads of a ``SentenceFacts``: its flags (normal
statement, content, significant, abnormal), an id of its tokens (the repeat test), the
polarities it says, and each mention's polarity, findings and attribute words (layout in
``kernels/clinical.py``). All records are in one growing float64 array.

How a report's sentences find their records (:meth:`_Store.reports`): a plain ASCII report
(no break but ".") is cut by a kernel (``kernels/sentences.py``) and each sentence is looked
up by its bytes in a compiled hash table (``clinical/sentence_table.py``); other reports go through ``sentences.reports_sentences`` and their facts are
found by identity (the store keeps every object it wrote, so an identity is never reused
while its record is held). A sentence met for the first time gets its record from one met
before that differs from it only in its numbers, when there is one (a *template*: the
skeleton's facts with this sentence's sizes and keys, as ``sentences._measured`` makes them),
else from ``reports_sentences``' analysis. The store starts afresh past
:data:`_MAX_SENTENCES` records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from himed_rewards.clinical import judge as _judge_module
from himed_rewards.clinical.attachment import _MAX_SIZE_MM, DEVICE
from himed_rewards.clinical.cache_dict import CacheDict
from himed_rewards.clinical.labeler import PATHOLOGIES
from himed_rewards.clinical.rules import RULES
from himed_rewards.clinical.sentence_table import SentenceTable
from himed_rewards.clinical.sentences import (
    _ASCII_NUMBER,
    _DIGITS_TO_ZERO,
    SentenceFacts,
    _measured,
    number_variants,
    reports_sentences,
)
from himed_rewards.clinical.templates import KEYS_SEPARATOR, Templates, Written
from himed_rewards.kernels import clinical_states as states
from himed_rewards.kernels.records import first_new_sentences, records_by_text
from himed_rewards.kernels.sentences import sentence_spans, span_room

__all__ = ["FINDINGS", "Cut", "cut_sentences", "lowered_ascii"]

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
_POLARITY = _judge_module._POLARITY_RANK  # a polarity's code is its rank
# hit kind -> (its code, its value's code; None: a number), as kernels/clinical_states.py reads
_HITS = {
    "side": (states._SIDE, states.SIDE_CODES),
    "zone": (states._ZONE, states.ZONE_CODES),
    "change": (states._CHANGE, states.CHANGE_CODES),
    "severity": (states._SEVERITY, None),
    "size": (states._SIZE, None),
    "dominant": (states._DOMINANT, states.DOMINANT_CODES),
    "position": (states._POSITION, states.POSITION_CODES),
}


def lowered_ascii(texts: Sequence[str]) -> tuple[list[int], str, np.ndarray, np.ndarray]:
    """``(plain, lowered, starts, ends)``: the indices of the ASCII texts among ``texts``,
    those texts lowercased and joined, and where text ``plain[j]`` is in the join
    (``lowered[starts[j]:ends[j]]``): what the judge's sentence kernels read.

    Examples:
        >>> plain, lowered, starts, ends = lowered_ascii(["No Effusion.", "é.", "Clear."])
        >>> plain, lowered, starts.tolist(), ends.tolist()
        ([0, 2], 'no effusion.clear.', [0, 12], [12, 18])
    """
    n = len(texts)
    plain = list(range(n)) if all(map(str.isascii, texts)) else \
        [k for k, text in enumerate(texts) if text.isascii()]
    chosen = texts if len(plain) == n else [texts[k] for k in plain]
    lengths = np.fromiter(map(len, chosen), np.int64, len(chosen))
    ends = np.cumsum(lengths)
    # (ASCII: lowercasing keeps every offset)
    return plain, "".join(chosen).lower(), ends - lengths, ends


class Cut(NamedTuple):
    """Where the sentences of texts are (:func:`cut_sentences`)."""

    span_start: np.ndarray  #: int64: sentence ``k`` is ``buf[span_start[k]:span_end[k]]``
    span_end: np.ndarray
    span_text: np.ndarray  #: of text ``span_text[k]`` (an index of ``starts``)
    simple: np.ndarray  #: uint8 per text: 0 when it holds another break than "." (no spans)


def cut_sentences(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> Cut:
    """The sentences of the lowercased ASCII texts ``buf[starts[j]:ends[j]]``, as
    ``sentences.reports_sentences`` cuts them, each stripped (``kernels/sentences.py``): what
    :meth:`_Store.reports_in` looks up. A function of the bytes alone, so the offline judge's
    helper process may be handed it with a batch (``rewards.judge_request``).

    Examples:
        >>> buf = np.frombuffer(b"no effusion. clear.a: b.", np.uint8)
        >>> cut = cut_sentences(buf, np.array([0, 19]), np.array([19, 24]))
        >>> [buf[a:z].tobytes() for a, z in zip(cut.span_start, cut.span_end)]
        [b'no effusion', b'clear']
        >>> cut.span_text.tolist(), cut.simple.tolist()
        ([0, 0], [1, 0])
    """
    room = span_room(starts, ends)
    span_start, span_end = np.empty(room, np.int64), np.empty(room, np.int64)
    span_text = np.empty(room, np.int64)
    simple = np.empty(starts.shape[0], np.uint8)
    count = sentence_spans(buf, starts, ends, span_start, span_end, span_text, simple)
    return Cut(span_start[:count], span_end[:count], span_text[:count], simple)


# The store starts afresh beyond this many records (each is a few dozen floats).
_MAX_SENTENCES = 65_536


class _Store:
    """Sentence records in one growing float64 array, found by their bytes (plain ASCII
    reports, through the kernels) or by their facts' identity (the others)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.blob = np.zeros(1 << 16, np.float64)
        self.fill = 0
        self.starts = np.zeros(1 << 12, np.int64)
        self.count = 0  # records written
        self.codes: dict[int, int] = {}  # id(facts) -> record number
        self.kept: list[SentenceFacts] = []  # the facts behind self.codes (keeps their ids)
        # a sentence's tokens, joined by KEYS_SEPARATOR -> their id
        self.keys: dict[str, int] = CacheDict()
        # The sentences of plain ASCII reports, looked up by their bytes in a compiled hash
        # table (kernels/sentences.py cuts them): sentence id -> record (-1 not written yet,
        # -2 a sentence without tokens)
        self.sentences = SentenceTable()
        self.record_of = np.full(1 << 10, -1, np.int64)
        # digit mask of a sentence (bytes) -> how to write the record of any sentence with
        # that mask from its numbers (see _from_template)
        self.templates: dict[bytes, tuple] = CacheDict()
        # the same templates as arrays, by mask id, for the kernel that writes their records
        self.templates_written = Templates()
        # (id of a facts' polarities, id of its gathered) -> its record past the keys id
        self.bodies: dict[tuple[int, int], tuple[float, ...]] = CacheDict()

    def reports(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The records of every report's sentences, in order: ``(records, lo, hi)``, report
        ``k`` being ``records[lo[k]:hi[k]]``. Plain ASCII reports (only "." as a break) are
        cut and looked up by the kernels; the others go through
        ``sentences.reports_sentences``, and so do the sentences met for the first time
        (but those that differ from one met before only in their numbers)."""
        plain, lowered, starts, ends = lowered_ascii(texts)
        buf = np.frombuffer(lowered.encode("ascii"), np.uint8)
        return self.reports_in(buf, starts, ends, plain, len(texts), texts.__getitem__,
                               lowered)

    def reports_in(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                   plain: Sequence[int], n: int, text: Callable[[int], str],
                   lowered: str | None = None, cut: Cut | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`reports` of ``n`` texts whose lowercased ASCII bytes are already in ``buf``:
        text ``plain[j]``'s are ``buf[starts[j]:ends[j]]``; ``text(k)`` gives text ``k``
        itself, for the texts not in ``plain`` and the plain ones that hold another break
        than "." (``lowered``: ``buf`` as a string, when the caller has it; ``cut``:
        :func:`cut_sentences` of the plain texts, when the caller has it)."""
        if cut is None:
            cut = cut_sentences(buf, starts, ends)
        span_start, span_end, span_text, simple = cut
        ids = self.sentences.intern_spans(buf, span_start, span_end)
        if len(self.sentences) > len(self.record_of):
            grown = np.full(2 * len(self.sentences), -1, np.int64)
            grown[:len(self.record_of)] = self.record_of
            self.record_of = grown
        # the sentences met for the first time, each once, by id (kernels/records.py: one
        # pass each way over the batch's sentences instead of a dozen numpy operations)
        where = np.empty(ids.shape[0], np.int64)
        n_new = first_new_sentences(ids, self.record_of, where)
        if n_new:
            where = where[:n_new]
            self._learn(ids[where], buf, span_start[where], span_end[where], lowered)
        records = np.empty(ids.shape[0], np.int64)
        lo = np.empty(n, np.int64)
        hi = np.empty(n, np.int64)
        records = records[:records_by_text(ids, self.record_of, span_text,
                                           np.asarray(plain, np.int64), records, lo, hi)]
        others = [plain[k] for k in np.flatnonzero(simple == 0).tolist()]
        if len(plain) < n:
            others += sorted(set(range(n)).difference(plain))
        if not others:
            return records, lo, hi
        reports = reports_sentences([text(k) for k in others])
        numbers = self.numbers(list(chain.from_iterable(reports)))
        at = len(records)
        for k, sentences in zip(others, reports, strict=True):
            lo[k], hi[k] = at, at + len(sentences)
            at += len(sentences)
        return np.concatenate([records, np.array(numbers, np.int64)]), lo, hi

    def _learn(self, ids: np.ndarray, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               lowered: str | None) -> None:
        """Write the records of the sentences ``buf[starts[k]:ends[k]]`` (cut, stripped,
        lowercased ASCII; ``lowered``: ``buf`` as a string, when the caller has it), met for
        the first time, whose ids are ``ids``: those whose digit mask has a template in one
        kernel pass (clinical/templates.py), the others here."""
        written = self.templates_written.write(buf, starts, ends, _MAX_SIZE_MM)
        status = written.status
        done = np.flatnonzero(status >= 0)
        if done.shape[0]:
            self._keep_written(written, done)
        rest_of = np.flatnonzero(status < 0)
        if not rest_of.shape[0]:
            self.record_of[ids] = status
            return
        pairs = zip(starts[rest_of].tolist(), ends[rest_of].tolist(), strict=True)
        chunks = ([buf[a:z].tobytes().decode("ascii") for a, z in pairs] if lowered is None
                  else [lowered[a:z] for a, z in pairs])
        mask_ids = written.mask_id[rest_of].tolist()
        records: list[float] = []
        record_starts: list[int] = []
        made = []
        rest = []
        for k, chunk in enumerate(chunks):
            number = self._from_template(chunk, records, record_starts, mask_ids[k])
            if number is None:
                rest.append(k)
            else:
                made.append((k, number))
        if made:
            self._append(records, record_starts)
        if rest:
            said = reports_sentences([chunks[k] for k in rest])
            if any(len(facts) > 1 for facts in said):  # (never: a sentence has no break)
                raise KeyError("a sentence cut in two")
            numbers = iter(self.numbers([facts[0] for facts in said if facts]))
            made += [(k, next(numbers) if facts else -2)
                     for k, facts in zip(rest, said, strict=True)]
        positions, numbers = zip(*made, strict=True)
        status[rest_of[list(positions)]] = numbers
        self.record_of[ids] = status

    def _keep_written(self, written: Written, done: np.ndarray) -> None:
        """Number and keep the records the template kernel wrote (sentences ``done``), each
        with its keys id; ``written.status`` then holds their numbers."""
        keys = written.keys
        keys_ids = [self._keys_id(keys[a:z]) for a, z in written.keys_span[done].tolist()]
        offsets = written.status[done]
        records = written.records
        records[offsets + 1] = keys_ids
        first = self.count
        self.count += done.shape[0]
        self._append(records, (offsets + self.fill).tolist())
        written.status[done] = np.arange(first, self.count)

    def _from_template(self, chunk: str, records: list[float], starts: list[int],
                       mask_id: int = -1) -> int | None:
        """Write the record of ``chunk`` from a sentence met before that differs from it only
        in its numbers, as ``sentences._measured`` makes its facts (the skeleton's, with this
        sentence's keys and sizes); None when there is no such sentence, or a size falls
        outside what _measured keeps without dropping it. ``mask_id``: the id of the
        chunk's digit mask in the template kernel's table (-1: none), where a template made
        now goes too."""
        encoded = chunk.encode("ascii")
        masked = encoded.translate(_DIGITS_TO_ZERO)
        if masked == encoded:  # no digit but 0
            return None
        template = self.templates.get(masked)
        if template is None:  # made when a second sentence of the mask comes (most never do)
            template = self._template(chunk, masked, mask_id)
            if template is None:
                return None
        record, sizes, keys, positions, numbers_of = template
        # (each number is its own key: token_keys(number)[0] is number, as normalise only
        # rewrites words ending in "s")
        numbers = numbers_of(chunk)
        sized = []
        for at, n, scale in sizes:
            size = float(numbers[n]) * scale
            if not 0.0 < size < _MAX_SIZE_MM:
                return None
            sized.append((at, size))
        keys = list(keys)
        for position, number in zip(positions, numbers, strict=False):  # (see _template)
            keys[position] = number
        keys_id = self._keys_id(KEYS_SEPARATOR.join(keys))
        at = len(records)
        starts.append(self.fill + at)
        records += record  # (then this sentence's keys id and sizes in place)
        records[at + 1] = keys_id
        for slot, size in sized:
            records[at + slot] = size
        self.count += 1
        return self.count - 1

    def _template(self, chunk: str, masked: bytes, mask_id: int = -1) -> tuple | None:
        """How to write the record of a sentence with ``chunk``'s digit mask ``masked``, from
        what ``sentences`` keeps of one met before (None: nothing kept): the skeleton's record,
        its size slots ``(index in the record, number, scale)``, its keys, the index in them
        of each number, and a function that cuts a text of the mask into its numbers."""
        variants = number_variants(chunk, masked)
        if variants is None:
            return None
        known, words, positions = variants
        skeleton, sizes, _ = known
        at: dict[tuple[int, int], int] = {}
        record: list[float] = []
        self._record(skeleton, record, at)
        keys = _measured(known, list(words)).keys
        slots = tuple((at[(entry, h)], positions.index(position),
                       skeleton.gathered[entry][1][h][1]) for entry, h, position in sizes)
        # Each number's word and its (start, end) in every text of the mask: _ASCII_NUMBER
        # reads digits and "." only, and the mask keeps both where they are
        found = [match.span() for match in _ASCII_NUMBER.finditer(masked.decode("ascii"))]
        if len(found) != len(positions) or not found:
            return None  # (never: the n-th number is word positions[n], sentences.py)
        # a tuple of the numbers' texts cut by slices in C (itemgetter of one item returns
        # the item itself: an empty slice more keeps it a tuple, which zip above ends before)
        numbers_of = itemgetter(*[slice(a, z) for a, z in found],
                                *([slice(0, 0)] if len(found) == 1 else []))
        template = self.templates[masked] = (tuple(record), slots, keys, tuple(positions),
                                             numbers_of)
        if mask_id >= 0:
            self.templates_written.add(mask_id, template[0], slots, keys, template[3],
                                       tuple(found))
        return template

    def numbers(self, facts: list[SentenceFacts]) -> list[int]:
        """The record number of each of ``facts``, writing the records of those met for the
        first time (KeyError: a name the kernel does not know; the caller then uses the
        Python path)."""
        numbers = list(map(self.codes.get, map(id, facts)))
        if None not in numbers:
            return numbers
        records: list[float] = []
        starts: list[int] = []
        kept, codes = self.kept, self.codes
        k = numbers.index(None)
        while True:  # (a C-level search for each record to write, not a loop over all)
            one = facts[k]
            number = codes.get(id(one))  # (met twice in this batch)
            if number is None:
                number = codes[id(one)] = self.count
                self.count += 1
                kept.append(one)
                starts.append(self.fill + len(records))
                self._record(one, records)
            numbers[k] = number
            try:
                k = numbers.index(None, k + 1)
            except ValueError:
                break
        self._append(records, starts)
        return numbers

    def _append(self, records: list[float], starts: list[int]) -> None:
        """Put the records just numbered (the last ``len(starts)``) into the arrays."""
        at, size = self.fill, len(records)
        if at + size > len(self.blob):
            self.blob = np.concatenate([self.blob, np.zeros(max(len(self.blob), size))])
        self.blob[at:at + size] = records
        self.fill = at + size
        first = self.count - len(starts)
        if self.count > len(self.starts):
            self.starts = np.concatenate([self.starts, np.zeros(self.count, np.int64)])
        self.starts[first:self.count] = starts

    def _record(self, facts: SentenceFacts, record: list[float],
                sizes: dict[tuple[int, int], int] | None = None) -> None:
        """Append the record of ``facts`` to ``record`` (see kernels/clinical.py); with
        ``sizes``, note where the value of each size hit went, by (entry, hit)."""
        _, normal, gathered, keys, content, significant, polarities, abnormal = facts
        record += (normal | content << 1 | significant << 2 | abnormal << 3,
                   self._keys_id(KEYS_SEPARATOR.join(keys)))
        # Sentences that share a skeleton share its tuples (sentences._measured): their
        # records differ in the keys only. (The ids stay valid: self.kept holds the facts.)
        shared = (id(polarities), id(gathered))
        body = None if sizes is not None else self.bodies.get(shared)
        if body is None:
            body = self._body(polarities, gathered, sizes)
            if sizes is None:
                self.bodies[shared] = body
        record += body

    def _keys_id(self, joined: str) -> int:
        """The id of a sentence's tokens, joined by KEYS_SEPARATOR (as the template kernel
        writes them: clinical/templates.py); two sentences of a report with one id: a repeat."""
        keys_id = self.keys.get(joined)
        if keys_id is None:
            keys_id = self.keys[joined] = len(self.keys)
        return keys_id

    def _body(self, polarities: tuple, gathered: tuple,
              sizes: dict[tuple[int, int], int] | None) -> tuple[float, ...]:
        ids, polarity = _ID, _POLARITY
        body = [len(polarities)]
        for finding, said in polarities:
            body += (ids[finding], polarity[said])
        body.append(len(gathered))
        for entry, ((_, _, findings, said), hits) in enumerate(gathered):
            if len(set(findings)) != len(findings):
                raise KeyError(findings)  # (never: each name once per mention)
            body += (polarity[said], len(findings), *[ids[f] for f in findings], len(hits))
            for h, (kind, value) in enumerate(hits):
                code, values = _HITS[kind]
                if sizes is not None and kind == "size":
                    sizes[(entry, h)] = len(body) + 3  # (after flags and keys id)
                body += (code, float(value) if values is None else values[value])
        return tuple(body)

    def full(self) -> bool:
        """Whether the store holds enough to start afresh (checked before each batch)."""
        return self.count > _MAX_SENTENCES or len(self.sentences) > 2 * _MAX_SENTENCES
