"""Build the WordNet 3.0 synonym table that METEOR ships with (no download at run time).

nltk's METEOR treats two words as synonyms when the reference word is a lemma name (without
``_``) of any synset that ``wordnet.synsets(word)`` returns. ``synsets`` runs morphy over the
four parts of speech: an exception list or one pass of suffix rules, then an index lookup.
This script stores exactly what that needs, read through nltk's own WordNet reader so that the
parsing (lemma markers such as ``(a)``, duplicate index lines) is nltk's:

* the morphy exception lists (``noun.exc`` ...), as nltk loads them (a later line wins);
* the index: lemma -> part of speech -> synsets (nltk's ``_lemma_pos_offset_map``), the
  lemmas being the first strings of the string table, sorted;
* every indexed synset's lemma names, those with ``_`` dropped (METEOR never uses them).

Morphy's suffix rules are code in ``himed_rewards/text/wordnet.py``. Run it with nltk pointed
at WordNet 3.0 (``eval "$(.ci/setup_wordnet.sh)"`` makes one from Debian's ``wordnet-base``)::

    python scripts/build_wordnet_table.py            # writes himed_rewards/data/wordnet/
    python scripts/build_wordnet_table.py --check    # fails if the shipped table differs
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "himed_rewards" / "data" / "wordnet"
TABLE = "wordnet30_synonyms.npz"
POS = ("n", "v", "a", "r")  # nltk's POS_LIST order; ADJ_SAT never reaches synsets()
LICENSE_SOURCE = Path("/usr/share/doc/wordnet-base/copyright")


def _wordnet():
    from nltk.corpus import wordnet as wn

    try:
        version = wn.get_version()
    except LookupError as error:
        raise SystemExit(
            "nltk cannot find WordNet: run `eval \"$(.ci/setup_wordnet.sh)\"` first\n" + str(error)
        ) from error
    if version != "3.0":
        raise SystemExit(f"expected WordNet 3.0, nltk reads version {version}")
    return wn


def build_arrays() -> dict[str, np.ndarray]:
    """Read WordNet through nltk and return the table's arrays (see the module docstring)."""
    wn = _wordnet()
    strings: dict[str, int] = {}

    def sid(text: str) -> int:
        if "\n" in text:
            raise ValueError(f"a WordNet string holds a newline: {text!r}")
        return strings.setdefault(text, len(strings))

    synset_ids: dict[tuple[str, int], int] = {}
    synset_names: list[list[int]] = []

    def synset_id(pos: str, offset: int) -> int:
        key = (pos, offset)
        found = synset_ids.get(key)
        if found is None:
            synset = wn.synset_from_pos_and_offset(pos, offset)
            names = sorted({sid(n) for n in synset.lemma_names() if "_" not in n})
            found = synset_ids[key] = len(synset_names)
            synset_names.append(names)
        return found

    index = wn._lemma_pos_offset_map  # the map nltk's synsets() consults
    lemmas = sorted(lemma for lemma, by_pos in index.items() if any(by_pos.get(p) for p in POS))
    for lemma in lemmas:  # the indexed lemmas are strings 0 .. len(lemmas)-1, sorted
        sid(lemma)
    index_count: list[int] = []  # per lemma and part of speech (POS order): synset count
    index_synsets: list[int] = []
    for lemma in lemmas:
        for p in POS:
            offsets = index[lemma].get(p, [])
            index_synsets.extend(synset_id(p, offset) for offset in offsets)
            index_count.append(len(offsets))

    exc_pos: list[int] = []
    exc_form: list[int] = []
    exc_count: list[int] = []
    exc_bases: list[int] = []
    for q, p in enumerate(POS):
        for form, bases in sorted(wn._exception_map[p].items()):
            exc_pos.append(q)
            exc_form.append(sid(form))
            exc_bases.extend(sid(b) for b in bases)
            exc_count.append(len(bases))

    counts = [len(n) for n in synset_names]
    for name, values in (("index", index_count), ("synset", counts), ("exception", exc_count)):
        if max(values) > 255:
            raise ValueError(f"a {name} count exceeds 255; widen its dtype")
    text = "\n".join(strings).encode("utf-8")
    return {
        "version": np.array([3, 0], dtype=np.int32),
        "strings": np.frombuffer(text, dtype=np.uint8),
        "n_lemmas": np.array([len(lemmas)], dtype=np.int32),
        "index_count": np.array(index_count, dtype=np.uint8),
        "index_synsets": np.array(index_synsets, dtype=np.int32),
        "synset_count": np.array(counts, dtype=np.uint8),
        "synset_names": np.array([i for n in synset_names for i in n], dtype=np.int32),
        "exc_pos": np.array(exc_pos, dtype=np.uint8),
        "exc_form": np.array(exc_form, dtype=np.int32),
        "exc_count": np.array(exc_count, dtype=np.uint8),
        "exc_bases": np.array(exc_bases, dtype=np.int32),
    }


def _serialise(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument("--check", action="store_true", help="compare with the shipped table")
    args = parser.parse_args(argv)
    arrays = build_arrays()
    target = args.out / TABLE
    if args.check:
        with np.load(target) as shipped:
            same = _digest({k: shipped[k] for k in shipped.files}) == _digest(arrays)
        print(f"{target}: {'up to date' if same else 'DIFFERS from WordNet'}")
        return 0 if same else 1
    args.out.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_serialise(arrays))
    if LICENSE_SOURCE.exists():
        shutil.copyfile(LICENSE_SOURCE, args.out / "LICENSE_WordNet.txt")
    sizes = {k: v.nbytes for k, v in arrays.items()}
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB compressed)")
    print(f"  {arrays['n_lemmas'][0]} indexed lemmas, {len(arrays['synset_count'])} synsets,")
    print(f"  {len(arrays['exc_form'])} exception forms; raw array bytes: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
