"""The judge's record templates as arrays, for ``kernels/templates.py`` (its owner).

``clinical.records._Store`` makes a template when a second sentence of a digit mask comes
(``_Store._template``); :meth:`Templates.add` lays it out as the kernel reads it, and
:meth:`Templates.write` has the kernel write the records of a batch's new sentences whose
masks have one. Keys are joined by :data:`KEYS_SEPARATOR`, a whitespace character, which no
key holds (keys are tokens of ``rules.TOKEN_RE``, which never holds whitespace).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from himed_rewards.clinical.sentence_table import SentenceTable
from himed_rewards.kernels.templates import template_records

__all__ = ["KEYS_SEPARATOR", "Templates", "Written"]

KEYS_SEPARATOR = "\x1f"


class Written(NamedTuple):
    """What :meth:`Templates.write` wrote for sentences ``0..m-1``."""

    status: np.ndarray  #: int64: where the sentence's record starts in ``records``, or -1
    mask_id: np.ndarray  #: int64: its digit mask's id (-1: no digit from 1 to 9)
    records: np.ndarray  #: float64: the records written, one after another
    keys: str  #: the written sentences' joined keys, one after another
    keys_span: np.ndarray  #: int64 ``(m, 2)``: sentence ``m``'s are ``keys[a:b]``


def _grown(array: np.ndarray, need: int, fill: int | float = 0) -> np.ndarray:
    """``array`` with at least ``need`` rows (doubled), the new ones ``fill``."""
    if need <= array.shape[0]:
        return array
    out = np.full((max(need, 2 * array.shape[0]), *array.shape[1:]), fill, array.dtype)
    out[: array.shape[0]] = array
    return out


class Templates:
    """The templates of digit masks, as ``kernels/templates.py`` reads them.

    Examples:
        >>> templates = Templates()
        >>> buf = np.frombuffer(b"nodule 12 mm", np.uint8)
        >>> first = templates.write(buf, np.array([0]), np.array([12]), 1e4)
        >>> first.status.tolist(), first.mask_id.tolist()  # no template for the mask yet
        ([-1], [0])
        >>> templates.add(0, (5.0, 0.0, 1.2), ((2, 0, 0.1),), ("nodule", "12", "mm"), (1,),
        ...               ((7, 9),))
        >>> buf = np.frombuffer(b"nodule 35 mm", np.uint8)
        >>> second = templates.write(buf, np.array([0]), np.array([12]), 1e4)
        >>> second.records.tolist(), second.keys.split(KEYS_SEPARATOR)
        ([5.0, 0.0, 3.5], ['nodule', '35', 'mm'])
    """

    def __init__(self) -> None:
        self.masks = SentenceTable()
        self.template_of = np.full(1 << 10, -1, np.int64)  # mask id -> template (-1: none)
        self.n = 0
        self.meta = np.zeros((64, 8), np.int64)
        self.blob = np.zeros(1 << 12, np.float64)
        self.numbers = np.zeros((64, 3), np.int64)
        self.sizes = np.zeros((64, 2), np.int64)
        self.scales = np.zeros(64, np.float64)
        self.keys = np.zeros(1 << 12, np.uint8)
        self.longest_record = 0
        self.longest_keys = 0

    def add(self, mask_id: int, record: tuple[float, ...], slots: tuple, keys: tuple[str, ...],
            positions: tuple[int, ...], spans: tuple[tuple[int, int], ...]) -> None:
        """Make ``record`` the template of mask ``mask_id``: ``slots`` are its sizes
        ``(index in the record, number, scale)``, ``keys`` its sentence's keys, and the n-th
        number (bytes ``spans[n]`` of every sentence of the mask) is key ``positions[n]``."""
        t = self.n
        self.meta = _grown(self.meta, t + 1)
        # the keys joined, each number's own left out (an empty key where it goes)
        holes = list(keys)
        offsets = []
        for position in positions:
            holes[position] = ""
            offsets.append(sum(map(len, holes[:position])) + position)
        joined = KEYS_SEPARATOR.join(holes).encode("ascii")
        # each array's used part ends where the last template's part does
        last = self.meta[t - 1] if t else np.zeros(8, np.int64)
        at_blob, first_number, first_size, at_keys = (int(last[k] + last[k + 1])
                                                      for k in range(0, 8, 2))
        self.meta[t] = (at_blob, len(record), first_number, len(spans), first_size,
                        len(slots), at_keys, len(joined))
        self.blob = _grown(self.blob, at_blob + len(record))
        self.blob[at_blob:at_blob + len(record)] = record
        self.numbers = _grown(self.numbers, first_number + len(spans))
        self.numbers[first_number:first_number + len(spans)] = [
            (a, z, offset) for (a, z), offset in zip(spans, offsets, strict=True)]
        self.sizes = _grown(self.sizes, first_size + len(slots))
        self.scales = _grown(self.scales, first_size + len(slots))
        for k, (at, number, scale) in enumerate(slots):
            self.sizes[first_size + k] = (at, number)
            self.scales[first_size + k] = scale
        self.keys = _grown(self.keys, at_keys + len(joined))
        self.keys[at_keys:at_keys + len(joined)] = np.frombuffer(joined, np.uint8)
        self.template_of = _grown(self.template_of, mask_id + 1, -1)
        self.template_of[mask_id] = t
        self.n += 1
        self.longest_record = max(self.longest_record, len(record))
        self.longest_keys = max(self.longest_keys, len(joined))

    def write(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
              max_size: float) -> Written:
        """The records of the sentences ``buf[starts[m]:ends[m]]`` (cut, stripped,
        lowercased ASCII) whose masks have a template (``kernels.templates``); sizes must be
        in ``(0, max_size)`` (else the caller writes that record)."""
        arguments = self.arguments(buf, starts, ends, max_size)
        masks = self.masks
        masks._n, masks._used, n_floats, n_keys = template_records(*arguments)
        *_, mask_id, status, records, keys_out, keys_span = arguments
        return Written(status, mask_id, records[:n_floats],
                       keys_out[:n_keys].tobytes().decode("ascii"), keys_span)

    def arguments(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  max_size: float) -> tuple:
        """The arguments of :meth:`write`'s kernel call, room made for it (also what
        ``clinical.encoded`` asks the disk cache about)."""
        count = starts.shape[0]
        n_bytes = int((ends - starts).sum()) if count else 0
        masks = self.masks
        masks._reserve(count, n_bytes)
        self.template_of = _grown(self.template_of, len(masks) + count, -1)
        return (buf, starts, ends, np.empty(n_bytes, np.uint8), masks._arena, masks._rows,
                masks._table, masks._n, masks._used, self.template_of, self.meta, self.blob,
                self.numbers, self.sizes, self.scales, self.keys, max_size,
                np.empty(count, np.int64), np.empty(count, np.int64),
                np.empty(count * self.longest_record, np.float64),
                np.empty(n_bytes + count * self.longest_keys, np.uint8),
                np.zeros((count, 2), np.int64))
