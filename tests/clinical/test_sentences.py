"""Sentence-by-sentence analysis (the judge's cache) says what the whole-text analysis says."""

from __future__ import annotations

import pytest

from himed_rewards.clinical import sentences
from himed_rewards.clinical.labeler import scan
from himed_rewards.clinical.sentences import report_sentences

COLON_CASES = [
    "Findings: no effusion.",  # the "no" after the break starts the next sentence
    "Pneumothorax: no.",  # ConText's ": no" looks back at the sentence it closes
    "Small effusion: no pneumothorax. Edema: none",
    "Findings: none. Impression: no acute disease; small left effusion: none seen.",
    "Pneumothorax: no. Effusion: none.",
    "Heart: normal. Lungs: clear: no consolidation.",
    ": no pneumothorax",
    "no pneumothorax :",
    "Impression:: no edema.",
]


def _whole(text: str) -> list[tuple[tuple[str, ...], str]]:
    _, mentions, _ = scan(text)
    return [(findings, polarity) for _, _, findings, polarity in mentions]


def _by_sentence(text: str) -> list[tuple[tuple[str, ...], str]]:
    return [(findings, polarity) for facts in report_sentences(text)
            for _, _, findings, polarity in facts.mentions]  # fmt: skip


@pytest.mark.parametrize("text", COLON_CASES)
def test_colon_sentences_match_the_whole_text_analysis(text: str) -> None:
    assert _by_sentence(text) == _whole(text)
    assert any(f.normal for f in report_sentences(text)) == scan(text)[2]


def test_iu_reports_match_the_whole_text_analysis(iu_pairs) -> None:
    hyps, refs = iu_pairs
    for text in hyps + refs:
        assert _by_sentence(text) == _whole(text), text


def test_only_the_colon_starts_a_phrase() -> None:
    # Sentences can be analysed apart only because no phrase holds a break after its start.
    leading = sentences._LEADING
    assert leading == {":"}


def test_caches_are_bounded(monkeypatch) -> None:
    for name in ("_CHUNKS", "_SKELETONS", "_SYMBOLS", "_MASKED"):
        monkeypatch.setattr(sentences, name, {})
    monkeypatch.setattr(sentences, "_CACHE_LIMIT", 10)
    words = ["Effusion", "Edema", "Nodule", "Zqa", "Zqb", "Mass"]
    for k in range(25):
        report_sentences(f"Effusion number {k}. No pneumothorax {words[k % 6]}{k}x.")
        assert max(map(len, (sentences._CHUNKS, sentences._SKELETONS, sentences._SYMBOLS,
                             sentences._MASKED))) <= 10
    report_sentences("effusion " * (sentences._MAX_CHARS // 9 + 1))
    sentences.reports_sentences([f"Edema {k}. Nodule {k} zq{k}." for k in range(30)])
    assert max(map(len, (sentences._CHUNKS, sentences._SKELETONS, sentences._SYMBOLS))) <= 10
    assert all(len(key) <= sentences._MAX_CHARS for key in sentences._CHUNKS)
    assert all(len(key) <= sentences._MAX_TOKENS for key in sentences._SKELETONS)


def test_cached_and_fresh_analyses_agree(monkeypatch) -> None:
    text = "Small left pleural effusion, new since prior. Findings: no edema. Lungs clear."
    first = report_sentences(text)  # fills the cache
    assert report_sentences(text) == first  # from the cache
    monkeypatch.setattr(sentences, "_CHUNKS", {})
    monkeypatch.setattr(sentences, "_SKELETONS", {})
    assert report_sentences(text) == first


def test_non_str_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        report_sentences(b"No effusion.")  # type: ignore[arg-type]


def test_split_cuts_where_the_tokeniser_has_a_break() -> None:
    # Numbers keep their "." ("2.5"), chains alternate ("1.2.3.4" is "1.2", ".", "3.4"),
    # and \d is any Unicode decimal digit.
    import random

    from himed_rewards.clinical.rules import TOKEN_RE

    rng = random.Random(0)
    alphabet = ["1", ".", "a", " ", ":", ";", "5", "\u0663", "\u00b2", "-", "..", "12"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        parts = sentences._split(text)
        assert "".join(parts) == text
        tokens = [t for k, part in enumerate(parts)
                  for t in (TOKEN_RE.findall(part) if k % 2 == 0 else [part])]  # fmt: skip
        assert tokens == TOKEN_RE.findall(text), (text, parts)


def test_a_batch_is_analysed_as_its_texts_one_by_one(monkeypatch, iu_pairs) -> None:
    hyps, refs = iu_pairs
    texts = [*hyps[:200], *refs[:200], "Findings: no effusion.", "", "1.2.3 cm. : none"]
    monkeypatch.setattr(sentences, "_CHUNKS", {})
    monkeypatch.setattr(sentences, "_SKELETONS", {})
    together = sentences.reports_sentences(texts)
    one_by_one = []
    for text in texts:
        monkeypatch.setattr(sentences, "_CHUNKS", {})
        monkeypatch.setattr(sentences, "_SKELETONS", {})
        one_by_one.append(report_sentences(text))
    assert together == one_by_one


MEASURED = [
    "Nodule measuring 7 mm.", "Nodule measuring 9 mm.", "Nodule measuring 0 mm.",
    "Nodule measuring 00.0 mm.", "Mass 20000 cm.", "Mass 999 cm.", "Mass 1000 cm.",
    "Mass 12345678901234567890 mm.", "Left effusion 2 cm and right effusion 3 cm.",
    "Left effusion 0 cm and right effusion 3 cm.", "Left effusion 2 cm and right effusion 0 cm.",
    "Nodule 1.5 x 2.5 cm.", "Nodule 0 x 0 cm, mass 4 cm.", "Nodule 5 cm 0 mm.",
    "Nodule \u0663 cm.", "Nodule 2\u0663 cm.", "Nodule 2\u00b2 cm.", "Small 3 left 4 nodule.",
    "Findings: 2 cm nodule.", "Findings: 0 cm nodule.", "Rib fracture 5 6 7.",
    "Tube tip 4 cm above the carina.", "Tube tip 0 cm above the carina.",
    # words the analysis never reads (misspelt, anonymised, new) stand in for each other
    "There is no XXXX of pleural effusion.", "There is no sign of pleural effusion.",
    "There is no efusion of pleural effusion.", "Heart size normal, zqxw lungs clear.",
    "Heart size normal, foo lungs clear.", "Small zqxw left nodule 3 mm.",
    "Small foo left nodule 0 mm.", "Tiny bar right nodule 5 mm.", "Foos bars, bazzes.",
    "Effusions bazzes, left greater than right.", "Effusions foos, left more than right.",
]


def _whole_gathered(text: str) -> list:
    from himed_rewards.clinical.attachment import gather_attributes
    from himed_rewards.clinical.rules import RULES

    ctx, mentions, _ = scan(text)
    other = (RULES.other,)
    return [(m[2], m[3], tuple(hits))
            for m, hits in gather_attributes(ctx, [m for m in mentions if m[2] != other])]


def _checked_against_whole_text(text: str):
    """The text's sentence facts, after checking their attributes, findings and tokens
    against the analysis of the whole text."""
    from himed_rewards.clinical.rules import token_keys

    facts = report_sentences(text)
    by_sentence = [(m[2], m[3], hits) for f in facts for m, hits in f.gathered]
    assert by_sentence == _whole_gathered(text), text
    assert _by_sentence(text) == _whole(text), text
    keys = [k for f in facts for k in f.keys]
    assert keys == [token_keys(w)[0] for w in sentences.TOKEN_RE.findall(text.lower())
                    if w not in sentences.SENTENCE_END], text
    return facts


def test_sentences_from_one_skeleton_keep_their_own_tokens_and_sizes(monkeypatch) -> None:
    # A sentence met before up to its numbers and unread words comes from the analysis of its
    # skeleton; its sizes (and whether they count at all: "0 cm") and tokens must be those of
    # its own analysis.
    monkeypatch.setattr(sentences, "_CHUNKS", {})
    monkeypatch.setattr(sentences, "_SKELETONS", {})
    for _ in range(2):  # the second round: every skeleton known
        for text in MEASURED:
            _checked_against_whole_text(text)
    assert sentences._SKELETONS  # the skeleton path was taken


NUMBER_VARIANTS = [
    # each group: texts with one digit mask (digits written "0"), the first met first
    ["Nodule measuring 7 mm.", "Nodule measuring 9 mm.", "Nodule measuring 0 mm."],
    ["Mass 2.5 cm.", "Mass 9.9 cm.", "Mass 0.0 cm.", "Mass 1.0 cm."],
    ["Mass 12345 cm.", "Mass 99999 cm.", "Mass 20000 cm.", "Mass 00000 cm."],
    ["Left effusion 2 cm and right effusion 3 cm.", "Left effusion 0 cm and right effusion 3 cm.",
     "Left effusion 2 cm and right effusion 0 cm."],
    ["Nodule 1.5 x 2.5 cm.", "Nodule 0.0 x 7.5 cm.", "Nodule 9.9 x 0.0 cm."],
    ["Nodule 5cm, zqxw mass 4mm.", "Nodule 0cm, zqxw mass 7mm.", "Nodule 8cm, zqxw mass 0mm."],
    ["Tube tip 4 cm above the carina.", "Tube tip 0 cm above the carina."],
    ["Rib fracture 5 6 7.", "Rib fracture 1 2 3."],
    ["Small effusion measuring 2.7 cm. Stable.", "Small effusion measuring 8.1 cm. Stable."],
]


def test_numbers_of_a_known_digit_mask_are_put_back(monkeypatch) -> None:
    # A new ASCII sentence whose digits, all written "0", give a mask met before takes that
    # text's tokens with its own numbers, and its own sizes: those of its own analysis.
    for name in ("_CHUNKS", "_SKELETONS", "_MASKED"):
        monkeypatch.setattr(sentences, name, {})
    skeletons = []  # the words of every sentence whose skeleton is made
    skeleton = sentences._skeleton

    def spy(words, lead):
        skeletons.append(list(words))
        return skeleton(words, lead)

    monkeypatch.setattr(sentences, "_skeleton", spy)
    for group in NUMBER_VARIANTS:
        for text in group:
            facts = _checked_against_whole_text(text)
            assert report_sentences(text) == facts
    assert len(sentences._MASKED) >= len(NUMBER_VARIANTS) - 1
    # every later member of a group came through its mask: neither tokenised nor skeletonised
    for group in NUMBER_VARIANTS:
        for text in group[1:]:
            first = sentences._split_dots(text.lower())[0].strip()
            if not any(digit in first for digit in "123456789"):
                continue  # no digit from 1 to 9: the skeleton's way ("0 cm")
            assert sentences.TOKEN_RE.findall(first) not in skeletons, text
        assert sentences.TOKEN_RE.findall(sentences._split_dots(group[0].lower())[0]) \
            in skeletons
