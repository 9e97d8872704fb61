"""WordNet synonyms and Porter stems for METEOR, from the table shipped in the package.

nltk's METEOR (``nltk.translate.meteor_score``, nltk 3.10) matches words in three passes:

1. exact: the lowercased words (``str.lower``);
2. stem: ``PorterStemmer().stem`` of those lowercased words;
3. synonym: a hypothesis word matches a reference word when the reference word's stem is
   the hypothesis word's stem itself or a lemma name without ``_`` of a synset that
   ``wordnet.synsets(stem)`` returns (pass 3 sees the *stemmed* words of pass 2).

:func:`synonyms` reproduces pass 3's relation from ``data/wordnet/wordnet30_synonyms.npz``
(built from WordNet 3.0 by ``scripts/build_wordnet_table.py``; licence notice beside it): the
morphy exception lists and suffix rules, the lemma index and the synsets' lemma names, so it
is exact for any word, inflected or not, and nothing is downloaded.

:class:`MeteorKeys` turns interned token ids (``text.interning.VOCAB``) into the int keys the
kernel compares: per vocabulary id the key of its lowercased form, of its stem and a CSR slice
of its stem's synonym keys. Each id is computed once; the arrays grow with the vocabulary.
Keys live in their own private :class:`Vocabulary`, so stems and synonyms never enter ``VOCAB``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import numpy as np

from himed_rewards.kernels import _interpret
from himed_rewards.kernels.meteor import unknown_ids
from himed_rewards.kernels.porter import (
    RULE_BOUNDS,
    RULE_CONDITIONS,
    RULE_TEXT,
    STEP_RULES,
)
from himed_rewards.kernels.porter import porter_stems as stem_bytes
from himed_rewards.text.cache import ByteLRU
from himed_rewards.text.porter import IRREGULAR_FORMS, porter_stem
from himed_rewards.text.vocabulary import VOCAB, Vocabulary

__all__ = ["WordNetTable", "wordnet_table", "synonyms", "meteor_stem", "porter_stems", "MeteorKeys",
           "METEOR_KEYS"]

TABLE_FILE = "wordnet30_synonyms.npz"
_POS = ("n", "v", "a", "r")  # nltk's POS_LIST, the order synsets() walks
# nltk's WordNetCorpusReader.MORPHOLOGICAL_SUBSTITUTIONS, per part of speech (adverbs: none).
_SUBSTITUTIONS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("s", ""), ("ses", "s"), ("ves", "f"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
     ("shes", "sh"), ("men", "man"), ("ies", "y")),
    (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
     ("ing", "")),
    (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    (),
)  # fmt: skip
_ALL_SUBSTITUTIONS = tuple(dict.fromkeys(rule for rules in _SUBSTITUTIONS for rule in rules))


def _replacements_by_ending() -> dict[str, tuple[str, ...]]:
    """Every suffix a substitution removes -> what the substitutions put in its place."""
    out: dict[str, list[str]] = {}
    for old, new in _ALL_SUBSTITUTIONS:
        out.setdefault(old, []).append(new)
    return {old: tuple(news) for old, news in out.items()}


# A word's endings of 1..4 characters are looked up here: four dict reads per new word, where
# testing every rule with ``endswith`` took twenty (most new words are typos and numbers,
# which reach no synset: this test is what they cost).
_REPLACEMENTS = _replacements_by_ending()
_ENDING_LENGTHS = tuple(sorted({len(old) for old in _REPLACEMENTS}))


class WordNetTable:
    """WordNet 3.0 as nltk's METEOR sees it: morphy, the lemma index and synset lemma names.

    Examples:
        >>> table = wordnet_table()
        >>> sorted(table.synonyms("mice"))
        ['mice', 'mouse', 'shiner']
        >>> table.morphy_forms("went", "v")
        ['go']
    """

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            source = resources.files("himed_rewards") / "data" / "wordnet" / TABLE_FILE
            with resources.as_file(source) as local, np.load(local) as data:
                arrays = {k: data[k] for k in data.files}
        else:
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
        strings = arrays["strings"].tobytes().decode("utf-8").split("\n")
        n_lemmas = int(arrays["n_lemmas"][0])
        self._strings = strings
        # lemma -> row; row * 4 + pos indexes the per-part-of-speech synset lists
        self._lemma_row = {strings[i]: i for i in range(n_lemmas)}
        counts = arrays["index_count"].astype(np.int64)
        self._index_ptr = np.concatenate(([0], np.cumsum(counts))).tolist()
        self._index_synsets = arrays["index_synsets"].tolist()
        # a synset's lemma names are looked up when a word needs them (a run meets a few
        # thousand of the 117,659 synsets: building them all took 0.2 s of the first call)
        synset_counts = arrays["synset_count"].astype(np.int64)
        self._synset_ptr = np.concatenate(([0], np.cumsum(synset_counts))).tolist()
        self._synset_name_rows = arrays["synset_names"].tolist()
        self._exceptions: tuple[dict[str, list[str]], ...] = ({}, {}, {}, {})
        self._any_exception: frozenset[str] = frozenset()
        bases = arrays["exc_bases"].tolist()
        start = 0
        for pos, form, count in zip(
            arrays["exc_pos"].tolist(),
            arrays["exc_form"].tolist(),
            arrays["exc_count"].tolist(),
            strict=True,
        ):
            self._exceptions[pos][strings[form]] = [strings[b] for b in bases[start : start + count]]
            start += count
        self._any_exception = frozenset().union(*self._exceptions)

    def _synset_lemma_names(self, synset: int) -> list[str]:
        rows = self._synset_name_rows[self._synset_ptr[synset] : self._synset_ptr[synset + 1]]
        return [self._strings[i] for i in rows]

    def _synset_ids(self, form: str, pos: int) -> list[int]:
        row = self._lemma_row.get(form)
        if row is None:
            return []
        k = row * 4 + pos
        return self._index_synsets[self._index_ptr[k] : self._index_ptr[k + 1]]

    def morphy_forms(self, form: str, pos: str) -> list[str]:
        """nltk's ``WordNetCorpusReader._morphy(form, pos)``: the base forms in WordNet."""
        q = _POS.index(pos)
        exceptions = self._exceptions[q]
        if form in exceptions:
            candidates = [form, *exceptions[form]]
        else:  # one pass of the suffix rules
            candidates = [form]
            candidates += [form[: -len(old)] + new for old, new in _SUBSTITUTIONS[q]
                           if form.endswith(old)]  # fmt: skip
        result: list[str] = []
        for candidate in candidates:
            if candidate not in result and self._synset_ids(candidate, q):
                result.append(candidate)
        return result

    def _in_no_synset(self, form: str) -> bool:
        """True when no candidate that morphy could try for ``form`` (itself, an exception
        base, a suffix substitution) is a lemma: then no part of speech finds a synset. One
        pass over the rules of all parts of speech, where morphy takes four (a typo costs a
        few look-ups)."""
        lemma = self._lemma_row
        if form in lemma or form in self._any_exception:
            return False
        size = len(form)
        for length in _ENDING_LENGTHS:
            if length > size:
                break
            news = _REPLACEMENTS.get(form[size - length:])
            if news is not None:
                stem = form[: size - length]
                for new in news:
                    if stem + new in lemma:
                        return False
        return True

    def synonyms(self, word: str) -> frozenset[str]:
        """``{word}`` plus the ``_``-free lemma names of every synset of ``wordnet.synsets(word)``."""
        lowered = word.lower()  # synsets() lowercases its argument
        names: set[str] = {word}
        if self._in_no_synset(lowered):
            return frozenset(names)
        for q, pos in enumerate(_POS):
            for form in self.morphy_forms(lowered, pos):
                for synset in self._synset_ids(form, q):
                    names.update(self._synset_lemma_names(synset))
        return frozenset(names)


@lru_cache(maxsize=1)
def wordnet_table() -> WordNetTable:
    """The shipped table, loaded once (about 0.3 s)."""
    return WordNetTable()


def synonyms(word: str) -> frozenset[str]:
    """The words nltk's METEOR accepts as synonyms of the (already stemmed) ``word``.

    Examples:
        >>> sorted(synonyms("big"))[:4]
        ['adult', 'bad', 'big', 'bighearted']
        >>> synonyms("xyzzy")
        frozenset({'xyzzy'})
    """
    return _SYNONYMS(word)


# bounded by bytes: a long run brings new stems without end (typos, numbers, garbage)
_SYNONYMS = ByteLRU(lambda word: wordnet_table().synonyms(word), 8 * 2**20)


# When the Porter kernel runs. Compiling it costs about 2.5 CPU s, once per installation, as
# much as stemming some 350,000 words in the interpreter (7 us a word): a fresh install's first
# calls, a smoke test or a training run's first steps would pay more for the compile than it
# saves. So the interpreter stems until the kernel is worth it (the ski-rental rule): the
# kernel runs on calls of at least KERNEL_STEMS_FROM words once it is compiled in this process
# or cached on disk (``warmup()`` compiles it, through ``use_stem_kernel``; the cache is looked
# at again every RECHECK_WORDS interpreted words), and is compiled once the process has stemmed
# COMPILE_AFTER_WORDS words in the interpreter, or at a call of COMPILE_FROM_WORDS words.
KERNEL_STEMS_FROM = 8
COMPILE_AFTER_WORDS = 350_000
COMPILE_FROM_WORDS = 50_000
RECHECK_WORDS = 20_000
_STEM_LOCK = threading.Lock()
# kernel: None (to be looked up), False, True; checked: the interpreted count at the look-up
_stem_state = {"interpreted": 0, "kernel": None, "checked": 0}


def _kernel_stems(n_words: int, arrays: tuple[np.ndarray, ...]) -> bool:
    """Whether the kernel stems these ``n_words`` words (see the constants above)."""
    if _interpret.active():  # every kernel runs in the interpreter for now: the stemmer too
        return False
    with _STEM_LOCK:
        ready = _stem_state["kernel"]
        if ready is False and _stem_state["interpreted"] >= _stem_state["checked"] + RECHECK_WORDS:
            ready = None  # a helper or another process may have compiled it meanwhile
        if ready is None:  # the disk cache may hold the compiled kernel
            _stem_state["checked"] = _stem_state["interpreted"]
            from numba import typeof

            from himed_rewards.kernels._config import dispatcher_of
            from himed_rewards.kernels._precompile import compiled_or_cached

            ready = compiled_or_cached(dispatcher_of(stem_bytes), tuple(typeof(a) for a in arrays))
        if not ready and (n_words >= COMPILE_FROM_WORDS
                          or _stem_state["interpreted"] + n_words > COMPILE_AFTER_WORDS):
            ready = True
        _stem_state["kernel"] = ready
        if not ready:
            _stem_state["interpreted"] += n_words
    return ready


def use_stem_kernel() -> None:
    """Compile the Porter kernel now (or load it from the disk cache), and stem calls of
    ``KERNEL_STEMS_FROM`` words or more with it from now on: ``warmup()`` calls it.

    Examples:
        >>> use_stem_kernel()
        >>> porter_stems(["effusions"] * KERNEL_STEMS_FROM)[0]
        'effus'
    """
    _interpret.stop()  # compiled from now on, this kernel and the others
    with _STEM_LOCK:
        _stem_state["kernel"] = True
    porter_stems(["warming"] * KERNEL_STEMS_FROM)


def porter_stems(words: list[str]) -> list[str]:
    """``PorterStemmer().stem`` of each of ``words`` (already lowercased): one by one in the
    interpreter (``text.porter``), or the ASCII ones outside nltk's irregular forms in one
    kernel call (``kernels.porter``) once the kernel is worth its compile (see above).

    Examples:
        >>> porter_stems(["opacities", "dying", "effusion", "états"])
        ['opac', 'die', 'effus', 'état']
        >>> porter_stems(["opacities", "dying", "effusion", "états"] * 8)[:4]
        ['opac', 'die', 'effus', 'état']
    """
    if len(words) < KERNEL_STEMS_FROM:
        return [porter_stem(word) for word in words]
    out = list(words)
    fast = []
    for i, word in enumerate(words):
        if word.isascii() and word not in IRREGULAR_FORMS:
            fast.append(i)
        else:  # irregular forms, and non-ASCII letters
            out[i] = porter_stem(word)
    if not fast:
        return out
    encoded = "".join(words[i] for i in fast).encode("ascii")
    lengths = np.fromiter((len(words[i]) for i in fast), dtype=np.int64, count=len(fast))
    end = np.cumsum(lengths)
    stems = np.empty(len(encoded) + 1, dtype=np.uint8)  # a stem grows by one byte at most
    stem_end = np.empty(len(fast), dtype=np.int64)
    arrays = (np.frombuffer(encoded, dtype=np.uint8), end - lengths, end, stems, stem_end,
              RULE_TEXT, RULE_BOUNDS, RULE_CONDITIONS, STEP_RULES)
    if not _kernel_stems(len(fast), arrays):
        for i in fast:
            out[i] = porter_stem(words[i])
        return out
    stem_bytes(*arrays)
    text = stems.tobytes().decode("ascii", "replace")
    start = 0
    for i, stop in zip(fast, stem_end.tolist(), strict=True):
        out[i] = text[start:stop]
        start = stop
    return out


def meteor_stem(word: str) -> str:
    """nltk's METEOR stem of a token: ``PorterStemmer().stem(token.lower())``.

    Examples:
        >>> meteor_stem("Opacities"), meteor_stem("leaves")
        ('opac', 'leav')
    """
    return porter_stem(word.lower())


class MeteorKeys:
    """Per-vocabulary-id match keys for the METEOR kernel, computed once per id.

    ``arrays(*id_arrays)`` makes sure every id in the arrays is known and returns
    ``(lower_key, stem_key, syn_start, syn_end, syn_keys)``: for a vocabulary id ``v``,
    ``lower_key[v]`` and ``stem_key[v]`` are the keys of its lowercased form and its stem, and
    ``syn_keys[syn_start[v]:syn_end[v]]`` the keys of its stem's synonyms (the stem included).
    ``head()`` is this thread's key-indexed scratch for the kernel: all -1, longer than
    every key so far.

    Examples:
        >>> keys = MeteorKeys()
        >>> ids = VOCAB.ids(["Went", "go"])
        >>> low, stem, start, end, syn = keys.arrays(ids)
        >>> keys.key_text(int(low[ids[0]])), keys.key_text(int(stem[ids[1]]))
        ('went', 'go')
        >>> "go" in keys.texts(syn[start[ids[0]]:end[ids[0]]])
        True
    """

    def __init__(self, vocabulary: Vocabulary = VOCAB) -> None:
        self._vocabulary = vocabulary
        self._lock = threading.Lock()
        self._heads = threading.local()  # each thread's key-indexed scratch (see head)
        self._reset()
        vocabulary.on_recycle(self._forget)

    def _forget(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        """Empty tables: every vocabulary id is learnt again on first sight."""
        self._keys = Vocabulary()
        self._known = np.zeros(0, dtype=np.bool_)
        self._lower = np.zeros(0, dtype=np.int32)
        self._stem = np.zeros(0, dtype=np.int32)
        self._start = np.zeros(0, dtype=np.int64)
        self._end = np.zeros(0, dtype=np.int64)
        self._syn = np.zeros(1024, dtype=np.int32)
        self._syn_used = 0
        # stem key -> its syn_keys slice (-1: not computed yet); arrays, not a dict: a long
        # run learns millions of keys
        self._slice_start = np.full(1024, -1, dtype=np.int32)
        self._slice_end = np.full(1024, -1, dtype=np.int32)

    def key_text(self, key: int) -> str:
        """The string of a key."""
        return self._keys.token(key)

    def texts(self, keys: Iterable[int]) -> list[str]:
        """The strings of many keys."""
        return [self._keys.token(int(k)) for k in keys]

    def _grow(self, size: int) -> None:
        capacity = max(size, 2 * len(self._known), 1024)

        def grown(old: np.ndarray) -> np.ndarray:
            new = np.zeros(capacity, dtype=old.dtype)
            new[: len(old)] = old
            return new

        self._known, self._lower, self._stem = map(grown, (self._known, self._lower, self._stem))
        self._start, self._end = grown(self._start), grown(self._end)

    def _synonym_slices(self, stems: list[str],
                        stem_keys: list[int]) -> tuple[list[int], list[int]]:
        """The ``syn_keys`` slice of each stem, adding the stems not seen before."""
        if len(self._keys) > len(self._slice_start):
            size = max(len(self._keys), 2 * len(self._slice_start))
            for name in ("_slice_start", "_slice_end"):
                old = getattr(self, name)
                new_array = np.full(size, -1, dtype=np.int32)
                new_array[: len(old)] = old
                setattr(self, name, new_array)
        slice_start, slice_end = self._slice_start, self._slice_end
        new = {k: t for t, k in zip(stems, stem_keys, strict=True) if slice_start[k] < 0}
        if new:
            # A stem no WordNet lemma can come from (a typo, a number: most new words) is its
            # own only synonym: no table walk and no memo entry for it
            no_synset = wordnet_table()._in_no_synset
            words = [None if no_synset(text.lower()) else sorted(synonyms(text))
                     for text in new.values()]
            # one kernel call for the keys of every group of synonyms, then each group's keys
            # sorted (the groups are a few dozen, mostly of one key: Python lists beat numpy
            # calls here); a stem without a synset is its own group, whose key is known: a
            # fresh batch's new stems are mostly those (typos, numbers), and then no call
            texts = [w for group in words if group is not None for w in group]
            flat = iter(self._keys.ids(texts).tolist() if texts else ())
            ordered: list[int] = []
            start = self._syn_used
            for key, group in zip(new, words, strict=True):
                at = start + len(ordered)
                ordered += [key] if group is None else sorted(next(flat) for _ in group)
                slice_start[key] = at
                slice_end[key] = start + len(ordered)
            size = start + len(ordered)
            if size > len(self._syn):
                bigger = np.zeros(max(size, 2 * len(self._syn)), dtype=np.int32)
                bigger[:start] = self._syn[:start]
                self._syn = bigger  # a kernel still holding the old buffer reads valid old slices
            self._syn[start:size] = ordered
            self._syn_used = size
        return [int(slice_start[k]) for k in stem_keys], [int(slice_end[k]) for k in stem_keys]

    def _learn(self, fresh: list[int]) -> None:
        """Compute the keys of the vocabulary ids ``fresh`` (distinct, not known yet)."""
        with self._lock:
            if len(self._vocabulary) > len(self._known):
                self._grow(len(self._vocabulary))
            known = self._known
            fresh = [v for v in fresh if not known[v]]  # another thread may have learnt them
            if not fresh:
                return
            lowered = [t.lower() for t in self._vocabulary.tokens(fresh)]
            stems = porter_stems(lowered)
            # the lowercased forms and the stems interned in one call
            keys = self._keys.ids(lowered + stems).tolist()
            stem_keys = keys[len(fresh):]
            starts, ends = self._synonym_slices(stems, stem_keys)
            self._lower[fresh] = keys[: len(fresh)]
            self._stem[fresh] = stem_keys
            self._start[fresh] = starts
            self._end[fresh] = ends
            known[fresh] = True  # (after the keys: head() reads their count once ids are known)

    def arrays(
        self, *id_arrays: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The key tables, covering at least every vocabulary id in ``id_arrays``."""
        fresh: set[int] = set()
        for ids in id_arrays:
            out = np.empty(len(ids), dtype=np.int32)
            missing = unknown_ids(ids, self._known, out)
            if missing:
                fresh.update(out[:missing].tolist())
        if fresh:  # one pass over every array's new ids (each pass has a fixed cost)
            self._learn(sorted(fresh))
        # _learn publishes new buffers; read them once so the five arrays agree
        return self._lower, self._stem, self._start, self._end, self._syn

    def head(self, size: int | None = None) -> np.ndarray:
        """This thread's key-indexed scratch for the kernel (all -1), at least ``size`` long
        (by default, covering every key learnt so far: read it after :meth:`arrays`, it then
        covers their keys). Kernels restore it to all -1 before returning; each thread has its
        own, as ``metrics._layout.scratch``.
        """
        need = len(self._keys) if size is None else size
        head = getattr(self._heads, "head", None)
        if head is None or head.shape[0] < need:
            grown = 1024 if head is None else 2 * head.shape[0]
            head = self._heads.head = np.full(max(need, grown), -1, dtype=np.int32)
        return head


METEOR_KEYS = MeteorKeys()
