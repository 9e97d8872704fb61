"""The medical-keyword bonus of the concept-level reward (HiMed-RL, Eq. 5).

``bonus = min(beta * K, cap)`` where ``K`` is the number of *distinct* keywords of a
vocabulary found in the report as contiguous token sequences of the default tokenizer.

* Distinct: a keyword counts once however often it occurs; its surface variants ("pleural
  effusion", "pleural effusions") are one keyword.
* Nested keywords count separately: "pleural effusion" holds "effusion", and both are
  keywords of the shipped vocabulary, so the phrase counts 2. That is the paper's literal
  formula (distinct vocabulary entries found), kept as the default.
* ``grounded=True`` (beyond the paper): a keyword counts only if the reference has it too.
* ``negation_aware=True`` (beyond the paper): a keyword that both texts mention counts only
  if its status (affirmed, negated or uncertain) is the same in both. A keyword's status in a
  text aggregates its occurrences as the CheXpert labeler does: positive if any occurrence is
  affirmed, else uncertain if any is uncertain, else negative. Keywords absent from the
  reference are left to ``grounded``. Polarity comes from
  :func:`himed_rewards.clinical.negation.polarity_at`.

Reports arrive either as text or as the int32 id array of
``encode(text, get_tokenizer("default"))``; the vocabulary is tokenized and interned once,
at first use, and matched by the numba trie walk of :mod:`himed_rewards.kernels.keywords`.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from himed_rewards.kernels.keywords import (
    TokenTrie,
    build_trie,
    distinct_keywords_batch,
    match_spans,
)
from himed_rewards.metrics._layout import concat
from himed_rewards.text.interning import VOCAB, encode
from himed_rewards.text.tokenizers import DefaultTokenizer, get_tokenizer

__all__ = [
    "KeywordVocabulary",
    "KeywordMatch",
    "find_keywords",
    "keyword_bonus",
    "keyword_bonus_batch",
]

_SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "keywords"
_SHIPPED = "keywords.tsv"
_HEADER = "keyword\tvariants\tsources"
_STRENGTH = {"positive": 2, "uncertain": 1, "negative": 0}


class KeywordMatch(NamedTuple):
    """One occurrence: keyword index and string, token span ``[start, end)``."""

    index: int
    keyword: str
    start: int
    end: int


class KeywordVocabulary:
    """An immutable keyword list; each keyword has one or more surface forms.

    ``keywords`` holds strings (one form each) or sequences of strings (first = the
    keyword's name, the rest = variants that count as the same keyword).

    Examples:
        >>> v = KeywordVocabulary(["pneumothorax", ("pleural effusion", "pleural effusions")])
        >>> len(v), v.keywords
        (2, ('pneumothorax', 'pleural effusion'))
        >>> v.signature()
        'keywords:user:2:...'
    """

    __slots__ = ("_keywords", "_forms", "_source", "_signature", "_trie", "_lock", "_rank",
                 "_sorted", "_sorted_array")

    def __init__(self, keywords: Iterable[str | Sequence[str]], *, source: str = "user") -> None:
        if isinstance(keywords, str) or not isinstance(keywords, Iterable):
            raise TypeError(
                "keywords must be an iterable of str (or of sequences of str variants), "
                f"got {type(keywords).__name__}"
            )
        names: list[str] = []
        forms: list[tuple[str, ...]] = []
        index_of: dict[str, int] = {}
        for entry in keywords:
            group = _clean_entry(entry)
            known = next((index_of[f] for f in group if f in index_of), None)
            if known is None:
                known = len(names)
                names.append(group[0])
                forms.append(())
            new = tuple(f for f in group if f not in index_of)
            forms[known] += new
            index_of.update(dict.fromkeys(new, known))
        if not names:
            raise ValueError("keywords must hold at least one keyword, got an empty list")
        self._keywords = tuple(names)
        self._rank: np.ndarray | None = None
        self._sorted: tuple[str, ...] | None = None
        self._sorted_array: np.ndarray | None = None
        self._forms = tuple(forms)
        self._source = str(source)
        digest = hashlib.sha256("\n".join("|".join(f) for f in forms).encode()).hexdigest()
        self._signature = f"keywords:{self._source}:{len(names)}:{digest[:12]}"
        self._trie: TokenTrie | None = None
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> KeywordVocabulary:
        """The shipped vocabulary (RadLex + CheXpert + board list), loaded once.

        Examples:
            >>> v = KeywordVocabulary.default()
            >>> "pneumothorax" in v, "normal" in v, len(v) > 10_000
            (True, False, True)
        """
        return _default_vocabulary()

    @classmethod
    def from_file(cls, path: str, *, source: str | None = None) -> KeywordVocabulary:
        """Read a keyword file: one keyword per line, ``a | b`` for variants, ``#`` comments.

        The shipped ``keywords.tsv`` format (keyword, variants, sources; tab-separated)
        is read too.
        """
        with open(path, encoding="utf-8") as handle:
            return cls(_parse_lines(handle.read()), source=source or str(path))

    @property
    def keywords(self) -> tuple[str, ...]:
        """The keyword names, by index."""
        return self._keywords

    @property
    def forms(self) -> tuple[tuple[str, ...], ...]:
        """The surface forms of each keyword, by index (the name first)."""
        return self._forms

    def __len__(self) -> int:
        return len(self._keywords)

    def __contains__(self, text: object) -> bool:
        """Whether ``text`` is a surface form of some keyword (compared as tokens)."""
        if not isinstance(text, str):
            return False
        ids = encode(text, get_tokenizer("default"))
        spans = find_keywords(ids, self)
        return any(m.start == 0 and m.end == len(ids) for m in spans)

    def __repr__(self) -> str:
        return f"KeywordVocabulary({self._signature!r})"

    def signature(self) -> str:
        """``keywords:<source>:<count>:<hash of the forms>``, for reproducibility records."""
        return self._signature

    def name_rank(self) -> np.ndarray:
        """Each keyword's rank in alphabetical order (to sort matches without Python sorts)."""
        rank = self._rank
        if rank is None:
            order = sorted(range(len(self._keywords)), key=self._keywords.__getitem__)
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            self._rank = rank
        return rank

    def sorted_names(self) -> tuple[str, ...]:
        """The keyword names in alphabetical order (``sorted_names()[name_rank()[k]]`` is
        keyword k's)."""
        names = self._sorted
        if names is None:
            names = self._sorted = tuple(sorted(self._keywords))
        return names

    def _sorted_name_array(self) -> np.ndarray:
        """:meth:`sorted_names` as an object array: a batch's names in one gather."""
        names = self._sorted_array
        if names is None:
            names = np.empty(len(self._keywords), dtype=object)
            names[:] = self.sorted_names()
            self._sorted_array = names
        return names

    def trie(self) -> TokenTrie:
        """The token trie of all forms (built and interned on first call, then cached)."""
        trie = self._trie
        if trie is None:
            with self._lock:
                if self._trie is None:
                    forms = [form for group in self._forms for form in group]
                    owners = [index for index, group in enumerate(self._forms) for _ in group]
                    # every form in one tokenizer call (the same ids as form by form)
                    ids, offsets = get_tokenizer("default").encode_batch(forms)
                    VOCAB.pin(ids)  # the trie outlives recycles
                    bounds = offsets.tolist()
                    sequences = [ids[bounds[k] : bounds[k + 1]] for k in range(len(forms))]
                    self._trie = build_trie(sequences, owners)
                trie = self._trie
        return trie


def _clean_entry(entry: object) -> tuple[str, ...]:
    group = (entry,) if isinstance(entry, str) else entry
    if not isinstance(group, Sequence) or not group:
        raise TypeError(
            "keywords must hold str or non-empty sequences of str, "
            f"got {type(entry).__name__}: {entry!r}"
        )
    cleaned = []
    for form in group:
        if not isinstance(form, str):
            raise TypeError(f"keywords must hold str, got {type(form).__name__}: {form!r}")
        text = " ".join(form.split())
        # Blank text is exactly the text without tokens: the default tokenizer makes a token
        # of every non-space character (so the 20,000 shipped forms are not tokenized twice)
        if not text:
            raise ValueError(f"keywords must be non-blank strings, got {form!r}")
        cleaned.append(text)
    return tuple(dict.fromkeys(cleaned))


def _parse_lines(text: str) -> list[tuple[str, ...]]:
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line == _HEADER:
            continue
        if "\t" in line:  # the shipped format: keyword, variants, sources
            name, variants = line.split("\t")[:2]
            entries.append((name, *[v for v in variants.split("|") if v]))
        else:
            entries.append(tuple(f.strip() for f in line.split("|") if f.strip()))
    return entries


@lru_cache(maxsize=1)
def _default_vocabulary() -> KeywordVocabulary:
    text = (_SHIPPED_DIR / _SHIPPED).read_text(encoding="utf-8")
    return KeywordVocabulary(_parse_lines(text), source="himed")


def _as_ids(value: object, argument: str) -> np.ndarray:
    """A report as an int32 id array: text is encoded with the default tokenizer."""
    if isinstance(value, str):
        return encode(value, get_tokenizer("default"))
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        return np.ascontiguousarray(value, dtype=np.int32)
    raise TypeError(
        f"{argument} must be a str or a 1-D integer numpy array of token ids "
        f"(encode(text, get_tokenizer('default'))), got {type(value).__name__}"
    )


def _check_vocabulary(vocabulary: object) -> KeywordVocabulary:
    if vocabulary is None:
        return KeywordVocabulary.default()
    if not isinstance(vocabulary, KeywordVocabulary):
        raise TypeError(
            f"vocabulary must be a KeywordVocabulary or None, got {type(vocabulary).__name__}"
        )
    return vocabulary


def _check_weight(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{argument} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{argument} must be a finite number >= 0, got {value!r}")
    return float(value)


def find_keywords(
    report_ids: np.ndarray | str, vocabulary: KeywordVocabulary | None = None
) -> list[KeywordMatch]:
    """Every keyword occurrence in a report, nested and overlapping ones included.

    Examples:
        >>> [(m.keyword, m.start, m.end) for m in find_keywords("Small pleural effusion.")]
        [('pleural effusion', 1, 3), ('effusion', 2, 3)]
    """
    vocabulary = _check_vocabulary(vocabulary)
    ids = _as_ids(report_ids, "report_ids")
    trie = vocabulary.trie()
    kws, starts, ends = match_spans(
        ids, trie.root_child, trie.child_start, trie.child_token, trie.child_node,
        trie.node_keyword, trie.depth,
    )  # fmt: skip
    names = vocabulary.keywords
    return [
        KeywordMatch(k, names[k], s, e)
        for k, s, e in zip(kws.tolist(), starts.tolist(), ends.tolist(), strict=True)
    ]


def keyword_bonus(
    report: str | np.ndarray,
    reference: str | np.ndarray | None = None,
    *,
    vocabulary: KeywordVocabulary | None = None,
    beta: float = 0.05,
    cap: float = 0.25,
    grounded: bool = False,
    negation_aware: bool = False,
) -> tuple[float, tuple[str, ...]]:
    """The bonus ``min(beta * distinct keywords, cap)`` and the counted keywords, sorted.

    Examples:
        >>> bonus, found = keyword_bonus("Small right pleural effusion. No pneumothorax.")
        >>> round(bonus, 6), found
        (0.15, ('effusion', 'pleural effusion', 'pneumothorax'))
        >>> keyword_bonus("Pneumothorax.", "No acute disease.", grounded=True)
        (0.0, ())
    """
    (result,) = keyword_bonus_batch(
        [report],
        None if reference is None else [reference],
        vocabulary=vocabulary, beta=beta, cap=cap, grounded=grounded,
        negation_aware=negation_aware,
    )  # fmt: skip
    return result


def keyword_bonus_batch(
    reports: Sequence[str | np.ndarray],
    references: Sequence[str | np.ndarray] | None = None,
    *,
    vocabulary: KeywordVocabulary | None = None,
    beta: float = 0.05,
    cap: float = 0.25,
    grounded: bool = False,
    negation_aware: bool = False,
    report_texts: Sequence[str] | None = None,
    reference_texts: Sequence[str] | None = None,
) -> list[tuple[float, tuple[str, ...]]]:
    """:func:`keyword_bonus` over aligned lists, one kernel call for all reports.

    ``reports`` / ``references`` may be already-encoded id arrays (as ``score_batch`` has
    them); ``negation_aware`` then needs the texts through ``report_texts`` /
    ``reference_texts`` (texts passed as ``reports`` are used directly).

    Examples:
        >>> keyword_bonus_batch(["No effusion.", "Cardiomegaly."], beta=0.1)
        [(0.1, ('effusion',)), (0.1, ('cardiomegaly',))]
    """
    beta = _check_weight(beta, "beta")
    cap = _check_weight(cap, "cap")
    vocabulary = _check_vocabulary(vocabulary)
    if isinstance(reports, (str, np.ndarray)) or not isinstance(reports, Sequence):
        raise TypeError(f"reports must be a sequence of reports, got {type(reports).__name__}")
    if (grounded or negation_aware) and references is None:
        option = "grounded" if grounded else "negation_aware"
        raise ValueError(f"{option}=True compares with the reference: references must be given")
    if references is not None and len(references) != len(reports):
        raise ValueError(
            f"references must align with reports, got {len(references)} references for "
            f"{len(reports)} reports"
        )
    found = _distinct(reports, "reports", vocabulary)
    in_reference: list[set[int]] = []
    if references is not None and (grounded or negation_aware):
        in_reference = _distinct(references, "references", vocabulary)
    if negation_aware:
        report_texts = _texts(reports, report_texts, "report_texts")
        reference_texts = _texts(references, reference_texts, "reference_texts")
    results = []
    names = vocabulary.keywords
    for r, keywords in enumerate(found):
        if grounded:
            keywords = [k for k in keywords if k in in_reference[r]]
        if negation_aware:
            shared = [k for k in keywords if k in in_reference[r]]
            if shared:
                mine = _status(report_texts[r], shared, vocabulary)
                theirs = _status(reference_texts[r], shared, vocabulary)
                keywords = [k for k in keywords if mine.get(k) == theirs.get(k)]
        bonus = min(beta * len(keywords), cap)
        results.append((bonus, tuple(sorted(names[k] for k in keywords))))
    return results


def keyword_bonus_flat(flat: np.ndarray, offsets: np.ndarray, *, vocabulary: KeywordVocabulary,
                       beta: float, cap: float) -> list[tuple[float, tuple[str, ...]]]:
    """The paper's bonus (no grounding, no negation) for reports already laid out as one
    id array with offsets, as ``score_batch`` has them: one kernel call, no per-report
    Python work beyond building the result tuples. Same results as
    :func:`keyword_bonus_batch`.

    Examples:
        >>> from himed_rewards.metrics._layout import concat
        >>> flat, offsets = concat([encode("No effusion.", get_tokenizer("default"))])
        >>> keyword_bonus_flat(flat, offsets, vocabulary=KeywordVocabulary.default(), beta=0.1, cap=0.25)
        [(0.1, ('effusion',))]
    """
    return list(zip(*keyword_bonus_columns(flat, offsets, vocabulary=vocabulary, beta=beta,
                                           cap=cap), strict=True))


def keyword_bonus_columns(flat: np.ndarray, offsets: np.ndarray, *,
                          vocabulary: KeywordVocabulary, beta: float,
                          cap: float) -> tuple[list[float], list[tuple[str, ...]]]:
    """:func:`keyword_bonus_flat` as two columns, the bonuses and the sorted keyword tuples
    (what ``score_batch`` reads: no pair tuple per report).

    Examples:
        >>> from himed_rewards.metrics._layout import concat
        >>> flat, offsets = concat([encode("Small effusion, no pneumothorax.", get_tokenizer("default"))])
        >>> keyword_bonus_columns(flat, offsets, vocabulary=KeywordVocabulary.default(), beta=0.1, cap=0.25)
        ([0.2], [('effusion', 'pneumothorax')])
    """
    beta = _check_weight(beta, "beta")
    cap = _check_weight(cap, "cap")
    out_offsets, out = _distinct_flat(flat, offsets, vocabulary)
    counts = out_offsets[1:] - out_offsets[:-1]  # (np.diff costs more on a small batch)
    # names sorted per report with one sort: report r's ranks are offset by r * len(vocabulary)
    size = len(vocabulary)
    shift = np.repeat(np.arange(counts.shape[0], dtype=np.int64) * size, counts)
    ranks = np.sort(vocabulary.name_rank()[out] + shift) - shift
    return np.minimum(beta * counts, cap).tolist(), _names_by_report(vocabulary, out_offsets, ranks)


def _names_by_report(vocabulary: KeywordVocabulary, offsets: np.ndarray,
                    ranks: np.ndarray) -> list[tuple[str, ...]]:
    """Each report's keyword names, report ``r`` holding the name ranks
    ``ranks[offsets[r]:offsets[r + 1]]`` (ascending, so the names come sorted).

    Examples:
        >>> vocabulary = KeywordVocabulary.default()
        >>> rank = int(vocabulary.name_rank()[0])
        >>> _names_by_report(vocabulary, np.array([0, 1, 1]), np.array([rank])) == [
        ...     (vocabulary._sorted_name_array()[rank],), ()]
        True
    """
    names = vocabulary._sorted_name_array()[ranks].tolist()
    bounds = offsets.tolist()
    return [tuple(names[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _distinct_flat(flat: np.ndarray, offsets: np.ndarray,
                   vocabulary: KeywordVocabulary) -> tuple[np.ndarray, np.ndarray]:
    """One kernel call: (out_offsets, keyword indices) of every report of a CSR layout."""
    trie = vocabulary.trie()
    return distinct_keywords_batch(
        flat, offsets, trie.root_child, trie.child_start, trie.child_token, trie.child_node,
        trie.node_keyword, trie.n_keywords, trie.child_mask,
    )  # fmt: skip


def _distinct(texts: Sequence[object], argument: str, vocabulary: KeywordVocabulary):
    arrays = [_as_ids(t, f"{argument}[{i}]") for i, t in enumerate(texts)]
    out_offsets, out = _distinct_flat(*concat(arrays), vocabulary)
    keywords = out.tolist()
    bounds = out_offsets.tolist()
    return [set(keywords[bounds[r] : bounds[r + 1]]) for r in range(len(arrays))]


def _texts(given: Sequence[object], texts: Sequence[str] | None, argument: str) -> list[str]:
    if texts is None:
        if all(isinstance(t, str) for t in given):
            return list(given)  # type: ignore[arg-type]
        raise TypeError(
            f"negation_aware=True needs the texts: pass {argument} (id arrays carry no "
            "character offsets)"
        )
    if len(texts) != len(given) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{argument} must be {len(given)} str aligned with the id arrays")
    return list(texts)


def _polarity_at() -> Callable[[str, int, int], str]:
    try:
        module = importlib.import_module("himed_rewards.clinical.negation")
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "negation_aware=True needs himed_rewards.clinical.negation.polarity_at"
        ) from error
    return module.polarity_at


def _status(text: str, keywords: list[int], vocabulary: KeywordVocabulary) -> dict[int, str]:
    """Each keyword's aggregated polarity in ``text`` (positive > uncertain > negative)."""
    wanted = set(keywords)
    lowered, spans = token_char_spans(text)
    # Offsets index the text as given, unless lowercasing changed its length.
    target = text if len(lowered) == len(text) else lowered
    polarity_at = _polarity_at()
    status: dict[int, str] = {}
    for match in find_keywords(encode(text, get_tokenizer("default")), vocabulary):
        if match.index not in wanted:
            continue
        begin, finish = spans[match.start][0], spans[match.end - 1][1]
        polarity = polarity_at(target, begin, finish)
        if polarity not in _STRENGTH:
            raise ValueError(
                f"polarity_at returned {polarity!r}; expected 'positive', 'negative' or "
                "'uncertain'"
            )
        old = status.get(match.index)
        if old is None or _STRENGTH[polarity] > _STRENGTH[old]:
            status[match.index] = polarity
    return status


def token_char_spans(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The default tokenizer's tokens as ``(start, end)`` offsets into ``text.lower()``.

    Examples:
        >>> token_char_spans("No T7-T8 well-defined")[1]
        [(0, 2), (3, 8), (9, 13), (13, 14), (14, 21)]
    """
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    for whole in DefaultTokenizer._TOKEN.finditer(lowered):
        token = whole.group()
        if len(token) > 1 and not token.isalnum() and not DefaultTokenizer._DIGIT.search(token):
            base = whole.start()
            spans.extend((base + p.start(), base + p.end()) for p in
                         DefaultTokenizer._PART.finditer(token))  # fmt: skip
        else:
            spans.append(whole.span())
    if [lowered[s:e] for s, e in spans] != get_tokenizer("default")(text):
        raise RuntimeError("token_char_spans disagrees with DefaultTokenizer; keep them in step")
    return lowered, spans
