"""Text layer: tokenizers and interning (strings in, int32 id arrays out)."""

from himed_rewards.text.interning import as_token_input, encode, encode_tokens
from himed_rewards.text.tokenizers import (
    TOKENIZERS,
    DefaultTokenizer,
    RougeTokenizer,
    SpaceTokenizer,
    Tokenizer,
    Tokenizer13a,
    WhitespaceTokenizer,
    get_tokenizer,
)
from himed_rewards.text.vocabulary import VOCAB, Vocabulary

__all__ = [
    "TOKENIZERS",
    "VOCAB",
    "DefaultTokenizer",
    "RougeTokenizer",
    "SpaceTokenizer",
    "Tokenizer",
    "Tokenizer13a",
    "Vocabulary",
    "WhitespaceTokenizer",
    "as_token_input",
    "encode",
    "encode_tokens",
    "get_tokenizer",
]
