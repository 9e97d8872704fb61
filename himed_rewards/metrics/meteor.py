"""METEOR: nltk 3.10's ``meteor_score`` exactly, or METEOR 1.5 through pycocoevalcap's jar.

``convention="nltk"`` (default) reproduces ``nltk.translate.meteor_score.meteor_score`` with
WordNet 3.0 and nltk's PorterStemmer: lowercased exact matches, then stems, then WordNet
synonyms, each pass greedy from the last hypothesis word; ``fmean`` with ``alpha``, the
fragmentation penalty ``gamma * (chunks / matches) ** beta``; the maximum over references.
Token lists are used as they are (nltk lowercases them, so do we); a ``str`` is tokenized with
the default tokenizer first. WordNet comes from the table shipped in the package
(``himed_rewards.text.wordnet``); the alignment runs in ``himed_rewards.kernels.meteor``.

``convention="coco"`` is METEOR 1.5 as report-generation papers compute it: pycocoevalcap's
``Meteor`` (its Java jar, with paraphrase tables), called as it is on the texts (token lists
joined by spaces). It needs Java and ``pycocoevalcap`` and is slow (a JVM): evaluation only.
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from himed_rewards.kernels.meteor import meteor_batch_scores, meteor_pair_score
from himed_rewards.metrics._inputs import (
    Text,
    check_choice,
    check_number,
    normalize_batch,
    normalize_references,
)
from himed_rewards.metrics._layout import Layout
from himed_rewards.text.interning import VOCAB, as_token_input, encode, encode_tokens
from himed_rewards.text.tokenizers import Tokenizer, get_tokenizer
from himed_rewards.text.wordnet import METEOR_KEYS

__all__ = ["meteor", "meteor_batch", "meteor_from_layout", "CONVENTIONS"]

CONVENTIONS = ("nltk", "coco")
_ALPHA, _BETA, _GAMMA = 0.9, 3.0, 0.5  # the default objects: ``is`` tells them unchanged
_DEFAULTS = {"alpha": _ALPHA, "beta": _BETA, "gamma": _GAMMA}


def meteor(
    hypothesis: str | Sequence[str],
    references: str | Sequence[str | Sequence[str]],
    *,
    alpha: float = _ALPHA,
    beta: float = _BETA,
    gamma: float = _GAMMA,
    convention: str = "nltk",
    tokenize: str | Tokenizer = "default",
) -> float:
    """METEOR of one hypothesis: the best score over its references, in [0, 1].

    ``references`` is a ``str`` or a sequence of references (each a ``str`` or a token list),
    so a single tokenized reference is written ``[tokens]``, as in nltk.

    Examples:
        >>> round(meteor("The lungs are clear.", "Lungs are clear."), 4)
        0.968
        >>> hyp = "heart size is normal".split()
        >>> round(meteor(hyp, [["the", "heart", "is", "normal", "in", "size"]]), 4)
        0.5442
        >>> meteor("went", "go")   # WordNet synonyms, "went" reached by morphy's exceptions
        0.5
    """
    text = as_token_input(hypothesis, "hypothesis")
    refs = normalize_references(references, "references")
    if convention != "nltk" or len(refs) != 1:
        return _score([text], [refs], alpha, beta, gamma, convention, tokenize)[0]
    # one pair: skip the batch layout, its cost is most of a call
    alpha, beta, gamma = _check_parameters(alpha, beta, gamma)
    tokenizer = get_tokenizer(tokenize)
    hyp, ref = _ids(text, tokenizer), _ids(refs[0], tokenizer)
    # the tables are read after the check in arrays(): they cover both sides even while
    # another thread learns new words
    tables = METEOR_KEYS.arrays(hyp, ref)
    return meteor_pair_score(hyp, ref, *tables, METEOR_KEYS.head(), alpha, beta, gamma)


def meteor_batch(
    hypotheses: Sequence[str | Sequence[str]],
    references: Sequence[str | Sequence[str | Sequence[str]]],
    *,
    alpha: float = _ALPHA,
    beta: float = _BETA,
    gamma: float = _GAMMA,
    convention: str = "nltk",
    tokenize: str | Tokenizer = "default",
) -> list[float]:
    """METEOR of many hypotheses in one kernel call; ``references[i]`` belongs to
    ``hypotheses[i]`` and is what :func:`meteor` takes (a ``str`` or a list of references).

    Examples:
        >>> scores = meteor_batch(["no effusion", "effusion"], ["no effusion", ["no effusion"]])
        >>> [round(s, 4) for s in scores]
        [0.9375, 0.2632]
    """
    if convention == "nltk" and _all_str(hypotheses) and _all_str(references):
        # the common case (one reference text per hypothesis) skips the per-item checks
        alpha, beta, gamma = _check_parameters(alpha, beta, gamma)
        if len(hypotheses) != len(references):
            normalize_batch(hypotheses, references)  # raises, naming both lengths
        return _nltk_scores(list(hypotheses), None, references, alpha, beta, gamma,
                            get_tokenizer(tokenize))  # fmt: skip
    texts, refs = normalize_batch(hypotheses, references)
    return _score(texts, refs, alpha, beta, gamma, convention, tokenize)


def _all_str(values: object) -> bool:
    # one C-level pass over the items; anything else goes the checked way
    return isinstance(values, (list, tuple)) and all(map(str.__instancecheck__, values))


def _score(texts: list[Text], refs: list[tuple[Text, ...]], alpha: object, beta: object,
           gamma: object, convention: object, tokenize: str | Tokenizer) -> list[float]:  # fmt: skip
    convention = check_choice(convention, CONVENTIONS, "convention")
    alpha, beta, gamma = _check_parameters(alpha, beta, gamma)
    if convention == "coco":
        given = {"alpha": alpha, "beta": beta, "gamma": gamma}
        changed = [k for k, v in given.items() if v != _DEFAULTS[k]]
        if changed:
            raise ValueError(
                f"convention='coco' runs METEOR 1.5 with its own parameters; {', '.join(changed)} "
                "must keep the default, got " + ", ".join(f"{k}={given[k]!r}" for k in changed)
            )
        return _coco_scores(texts, refs)
    tokenizer = get_tokenizer(tokenize)
    flat = [r for group in refs for r in group]
    return _nltk_scores(texts, refs, flat, alpha, beta, gamma, tokenizer)


def _nltk_scores(texts: Sequence[Text], refs: list[tuple[Text, ...]] | None,
                 flat_refs: Sequence[Text], alpha: float, beta: float, gamma: float,
                 tokenizer: Tokenizer) -> list[float]:  # fmt: skip
    """Score ``texts`` against ``refs`` (reference tuples whose texts, in order, are
    ``flat_refs``); ``refs=None``: one reference per text, ``flat_refs[i]`` for ``texts[i]``."""
    n = len(texts)
    if not n:
        return []
    ids = tokenizer.ids
    if all(map(str.__instancecheck__, texts)) and all(map(str.__instancecheck__, flat_refs)):
        arrays = [*map(ids, texts), *map(ids, flat_refs)]
    else:
        arrays = [_ids(t, tokenizer) for t in texts] + [_ids(r, tokenizer) for r in flat_refs]
    # hypotheses and references in one flat array: one concatenation, one key-table check
    ptr = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays)), out=ptr[1:])
    tokens = np.concatenate(arrays)
    if refs is None:
        ref_first = np.arange(n, dtype=np.int64)
        ref_stop = ref_first + 1
    else:
        group_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, refs), dtype=np.int64, count=n), out=group_ptr[1:])
        ref_first, ref_stop = group_ptr[:-1], group_ptr[1:]
    tables = METEOR_KEYS.arrays(tokens)
    scores = meteor_batch_scores(tokens, ptr[: n + 1], tokens, ptr[n:], ref_first, ref_stop,
                                 *tables, METEOR_KEYS.head(), alpha, beta, gamma)  # fmt: skip
    return scores.tolist()


def meteor_from_layout(layout: Layout, *, alpha: float = _ALPHA, beta: float = _BETA,
                       gamma: float = _GAMMA) -> np.ndarray:  # fmt: skip
    """nltk METEOR of every hypothesis of an interned batch layout (float64, one per hypothesis).

    For callers that already tokenized and interned (the reward's ``score_batch``): the
    hypothesis ``i`` is scored against the references of its group ``layout.hyp_group[i]``;
    a group's references are looked up in the key tables once, however many hypotheses share
    them (GRPO).

    Examples:
        >>> from himed_rewards.metrics._layout import build_layout
        >>> layout = build_layout(["no effusion"], [("no effusion",)], get_tokenizer("default"))
        >>> meteor_from_layout(layout).round(4).tolist()
        [0.9375]
    """
    alpha, beta, gamma = _check_parameters(alpha, beta, gamma)
    groups = layout.hyp_group
    if groups.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    tables = METEOR_KEYS.arrays(layout.hyp_ids, layout.ref_ids)
    return meteor_batch_scores(
        layout.hyp_ids, layout.hyp_offsets, layout.ref_ids, layout.ref_offsets,
        layout.group_ref_offsets[groups], layout.group_ref_offsets[groups + 1], *tables,
        METEOR_KEYS.head(), alpha, beta, gamma,
    )  # fmt: skip


def _check_parameters(alpha: object, beta: object, gamma: object) -> tuple[float, float, float]:
    if alpha is _ALPHA and beta is _BETA and gamma is _GAMMA:  # the defaults, unchanged
        return _ALPHA, _BETA, _GAMMA
    # alpha and gamma in [0, 1] and beta >= 0 keep every score in [0, 1] and never NaN
    return (
        check_number(alpha, "alpha", minimum=0.0, maximum=1.0),
        check_number(beta, "beta", minimum=0.0),
        check_number(gamma, "gamma", minimum=0.0, maximum=1.0),
    )


# Token tuples repeat (a GRPO group shares its reference): intern each distinct one once.
_encode_token_tuple = lru_cache(maxsize=2**16)(encode_tokens)
VOCAB.on_recycle(_encode_token_tuple.cache_clear)  # its arrays hold ids a recycle forgets


def _ids(text: Text, tokenizer: Tokenizer) -> np.ndarray:
    if isinstance(text, str):
        return encode(text, tokenizer)
    return _encode_token_tuple(text)


# --- convention="coco": pycocoevalcap's METEOR 1.5 jar, wrapped -------------------------------

_COCO_LOCK = threading.Lock()
_COCO: list[object] = []  # the one pycocoevalcap Meteor (a JVM), started on first use


def _coco_scorer() -> object:
    missing = []
    if shutil.which("java") is None:
        missing.append("Java (a `java` on PATH, e.g. `apt-get install default-jre-headless`)")
    if importlib.util.find_spec("pycocoevalcap") is None:
        missing.append("pycocoevalcap (`pip install 'himed-rewards[eval]'`)")
    if missing:
        raise RuntimeError("convention='coco' calls pycocoevalcap's METEOR 1.5 jar, which needs "
                           + " and ".join(missing) + "; not found")  # fmt: skip
    with _COCO_LOCK:
        if not _COCO:
            from pycocoevalcap.meteor.meteor import Meteor

            _COCO.append(Meteor())
        return _COCO[0]


def _coco_line(text: Text) -> str:
    # the jar reads one line per request: a newline inside a text would desynchronise it
    joined = text if isinstance(text, str) else " ".join(text)
    return " ".join(joined.splitlines())


def _coco_scores(texts: list[Text], refs: list[tuple[Text, ...]]) -> list[float]:
    if not texts:
        return []
    scorer = _coco_scorer()
    res = {i: [_coco_line(t)] for i, t in enumerate(texts)}
    gts = {i: [_coco_line(r) for r in group] for i, group in enumerate(refs)}
    _, scores = scorer.compute_score(gts, res)  # type: ignore[attr-defined]
    return [float(s) for s in scores]
