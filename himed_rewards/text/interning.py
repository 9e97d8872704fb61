"""Interning: tokens become int32 ids once, so every kernel works on integer arrays.

One process-wide :class:`~himed_rewards.text.vocabulary.Vocabulary` maps each distinct
token string to an id, stable between recycles (see that module). Text is tokenized and
interned through :func:`encode` (one text, memoised per tokenizer in a byte-bounded cache)
or a tokenizer's ``encode_batch`` (many texts in one compiled call, what the batch metrics
and the reward use).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from himed_rewards.text.tokenizers import Tokenizer
from himed_rewards.text.vocabulary import VOCAB, Vocabulary

__all__ = ["Vocabulary", "VOCAB", "encode", "encode_tokens", "as_token_input"]



def encode(text: str, tokenizer: Tokenizer, *, lowercase: bool = False) -> np.ndarray:
    """Tokenize and intern ``text`` (memoised for the built-in tokenizers).

    Examples:
        >>> from himed_rewards.text.tokenizers import get_tokenizer
        >>> ids = encode("No effusion.", get_tokenizer("13a"))
        >>> VOCAB.tokens(ids)
        ['No', 'effusion', '.']
    """
    return tokenizer.ids(text.lower() if lowercase else text)


def encode_tokens(tokens: Sequence[str], *, lowercase: bool = False) -> np.ndarray:
    """Intern an already-tokenized sequence as it is (optionally lowercased)."""
    if lowercase:
        tokens = [t.lower() for t in tokens]
    return VOCAB.ids(tokens)


def as_token_input(value: object, argument: str) -> str | tuple[str, ...]:
    """Validate one text argument: a ``str`` or a sequence of ``str`` tokens.

    Examples:
        >>> as_token_input(["a", "b"], "hypothesis")
        ('a', 'b')
        >>> as_token_input(3, "hypothesis")
        Traceback (most recent call last):
        ...
        TypeError: hypothesis must be a str or a sequence of str tokens, got int
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(map(str.__instancecheck__, value)):  # C-speed check
        return tuple(value)
    if isinstance(value, (list, tuple)):
        bad = next(t for t in value if not isinstance(t, str))
        raise TypeError(
            f"{argument} must be a str or a sequence of str tokens, got a sequence holding "
            f"{type(bad).__name__}"
        )
    raise TypeError(
        f"{argument} must be a str or a sequence of str tokens, got {type(value).__name__}"
    )
