"""``text.porter.porter_stem`` (no nltk, the kernel's steps in the interpreter) against nltk."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.text.porter import IRREGULAR_FORMS, porter_stem
from himed_rewards.text.wordnet import wordnet_table

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the shared word strategy
from porter_words import RULE_LETTERS, SUFFIXES, rule_words  # noqa: E402

nltk_porter = pytest.importorskip("nltk.stem.porter")
PORTER = nltk_porter.PorterStemmer()

# with non-ASCII letters (consonants to nltk, one code point each)
LETTERS = RULE_LETTERS + "éüßİ"


def test_irregular_forms_are_nltks():
    assert PORTER.pool == IRREGULAR_FORMS


def test_every_wordnet_lemma_stems_as_nltk_does():
    words = wordnet_table()._strings
    assert len(words) > 100_000
    assert [porter_stem(w) for w in words] == [PORTER.stem(w) for w in words]


@settings(max_examples=500, deadline=None)
@given(rule_words(LETTERS))
def test_random_words_stem_as_nltk_does(word):
    assert porter_stem(word) == PORTER.stem(word)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_any_text_stems_as_nltk_does(word):
    assert porter_stem(word) == PORTER.stem(word)


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="word"):
        porter_stem(b"lungs")


def test_the_reward_path_imports_neither_nltk_nor_the_compiler():
    code = ("import sys\n"
            "from himed_rewards.text.wordnet import porter_stems, meteor_stem\n"
            "from himed_rewards.text.tokenizers import get_tokenizer\n"
            "assert porter_stems(['opacities', 'dying', 'résumés']) == ['opac', 'die', 'résumé']\n"
            "assert meteor_stem('Effusions') == 'effus'\n"
            "assert get_tokenizer('rouge+stem')('Opacities seen') == ['opac', 'seen']\n"
            "print(sorted(m for m in ('nltk', 'scipy', 'numba') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_the_kernel_path_stems_as_nltk_does(monkeypatch):
    from himed_rewards.text import wordnet

    monkeypatch.setitem(wordnet._stem_state, "kernel", True)  # as once compiled or cached
    rng = random.Random(13)
    letters = "aeiouybcdlmnrstzgwx1.-é"
    for _ in range(200):
        words = [rng.choice(["", "dying", "skies"]) + "".join(
            rng.choice(letters) for _ in range(rng.randint(0, 8))) + rng.choice(SUFFIXES)
            for _ in range(rng.randint(wordnet.KERNEL_STEMS_FROM, 40))]
        assert wordnet.porter_stems(words) == [PORTER.stem(w) for w in words]


def test_a_fresh_install_stems_small_calls_without_compiling_the_kernel(tmp_path):
    # the kernel costs 2.5 s to compile: a few hundred words go through the interpreter, and
    # a call on a corpus scale compiles it
    code = ("from himed_rewards.text import wordnet\n"
            "words = [f'opacit{i}ies' for i in range(300)]\n"
            "assert wordnet.porter_stems(words)[:1] == ['opacit0i']\n"
            "print(len(wordnet.stem_bytes.signatures), wordnet._stem_state['interpreted'])\n"
            "wordnet.porter_stems(words * (wordnet.COMPILE_FROM_WORDS // 300 + 1))\n"
            "print(len(wordnet.stem_bytes.signatures))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "HIMED_REWARDS_COMPILE_HELPERS": "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env)
    assert done.stdout.split() == ["0", "300", "1"]
