"""The compiled tokenizer paths give exactly the tokens of the Python rules they replace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.text.tokenizers import DefaultTokenizer, RougeTokenizer, get_tokenizer
from himed_rewards.text.vocabulary import VOCAB, Vocabulary

# Characters that exercise every branch: joiners, digits, cases, underscores, every ASCII
# space, and non-ASCII letters, digits and spaces.
ALPHABET = st.sampled_from(list("aZz09.,-/:;_ \t\n\x0b\x0c\r\x1c\x1f!()") +
                           ["é", "İ", "K", "٣", "\u00a0", "\u2028", "ß", "\ud800"])
TEXTS = st.text(alphabet=ALPHABET, max_size=40) | st.text(max_size=40)


def tokens_of(tokenizer, texts):
    ids, offsets = tokenizer.encode_batch(texts)
    return [VOCAB.tokens(ids[offsets[i]:offsets[i + 1]]) for i in range(len(texts))]


@pytest.mark.parametrize("name", ["default", "rouge", "13a", "whitespace"])
@settings(max_examples=300, deadline=None)
@given(texts=st.lists(TEXTS, max_size=6))
def test_compiled_batch_equals_python_rule(name, texts):
    tokenizer = get_tokenizer(name)
    assert tokens_of(tokenizer, texts) == [tokenizer._tokenize(t) for t in texts]
    for text in texts:
        assert VOCAB.tokens(tokenizer.ids(text)) == tokenizer._tokenize(text)


def test_real_reports_match(iu_pairs):
    hyps, refs = iu_pairs
    for tokenizer in (DefaultTokenizer(), RougeTokenizer(), get_tokenizer("13a"),
                      get_tokenizer("whitespace")):
        texts = hyps + refs
        assert tokens_of(tokenizer, texts) == [tokenizer._tokenize(t) for t in texts]


def test_rouge_with_stemmer_still_uses_python_path():
    tokenizer = get_tokenizer("rouge+stem")
    ids, offsets = tokenizer.encode_batch(["Opacities are seen", ""])
    assert VOCAB.tokens(ids) == ["opac", "are", "seen"] and offsets.tolist() == [0, 3, 3]


def test_bad_text_in_a_batch_names_its_index():
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, got int"):
        get_tokenizer("default").encode_batch(["a", 3])


def test_vocabulary_ids_are_dense_stable_and_round_trip():
    v = Vocabulary()
    words = [f"w{i}" for i in range(5000)] + ["", "é", "\ud800"]
    ids = v.ids(words)
    assert ids.tolist() == list(range(len(words)))  # grew through several table rebuilds
    assert v.ids(words[::-1]).tolist() == ids[::-1].tolist()
    assert v.tokens(ids) == words and len(v) == len(words)
    with pytest.raises(IndexError, match="token_id"):
        v.token(len(words))


def test_vocabulary_memory_per_token_is_small():
    v = Vocabulary()
    v.ids([f"word{i}" for i in range(100_000)])
    assert v.nbytes / len(v) < 64  # bytes per distinct token, all of it in numpy arrays
    assert np.all(v.ids(["word0", "word99999"]) == [0, 99_999])


@settings(max_examples=300, deadline=None)
@given(text=TEXTS | st.text(alphabet=st.sampled_from(list("a1.,-&;quotampltg <>\n")), max_size=40))
def test_13a_fast_rules_equal_sacrebleu(text):
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a as Sacre13a

    expected = Sacre13a()(text).split()
    assert get_tokenizer("13a")(text) == expected
    ids, _ = get_tokenizer("13a").encode_batch([text])
    assert VOCAB.tokens(ids) == expected
