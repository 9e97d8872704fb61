"""polarity_at: negation / uncertainty of one character span, same machinery as the labeler."""

from __future__ import annotations

import re

import pytest

from himed_rewards.clinical import label_report, polarity_at


def span_of(text: str, word: str, nth: int = 0) -> tuple[int, int]:
    match = list(re.finditer(re.escape(word), text))[nth]
    return match.start(), match.end()


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        ("No pneumothorax.", "pneumothorax", "negative"),
        ("There is no evidence of pneumothorax.", "pneumothorax", "negative"),
        ("Pneumothorax has resolved.", "Pneumothorax", "negative"),
        ("Small pneumothorax.", "pneumothorax", "positive"),
        ("Possible small pneumothorax.", "pneumothorax", "uncertain"),
        ("Pneumothorax cannot be excluded.", "Pneumothorax", "uncertain"),
        ("No effusion. Small pneumothorax.", "pneumothorax", "positive"),
        ("No effusion, but small pneumothorax.", "pneumothorax", "positive"),
        ("The heart is not enlarged.", "enlarged", "negative"),
        ("no definite focal consolidation", "consolidation", "negative"),
    ],
)
def test_polarity_of_a_span(text: str, word: str, expected: str) -> None:
    assert polarity_at(text, *span_of(text, word)) == expected


def test_any_span_works_not_only_vocabulary_words() -> None:
    text = "No bronchiectasis. Mild bronchiectasis is possible."
    assert polarity_at(text, *span_of(text, "bronchiectasis")) == "negative"
    assert polarity_at(text, *span_of(text, "bronchiectasis", 1)) == "uncertain"


def test_partial_word_span_takes_the_whole_token() -> None:
    text = "No effusions."
    start, end = span_of(text, "effusion")
    assert polarity_at(text, start + 1, end - 2) == "negative"


def test_agrees_with_label_report() -> None:
    text = "No pleural effusion. Possible nodule. Mild cardiomegaly."
    labels = label_report(text)
    assert polarity_at(text, *span_of(text, "effusion")) == labels["pleural_effusion"]
    assert polarity_at(text, *span_of(text, "nodule")) == labels["nodule"]
    assert polarity_at(text, *span_of(text, "cardiomegaly")) == labels["cardiomegaly"]


def test_offsets_survive_characters_that_lowercase_to_two() -> None:
    text = "İİ no pneumothorax."  # "İ".lower() has two characters
    assert polarity_at(text, *span_of(text, "pneumothorax")) == "negative"


@pytest.mark.parametrize(
    ("start", "end"),
    [(-1, 3), (3, 3), (5, 2), (0, 100)],
)
def test_bad_span_raises_value_error(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="span"):
        polarity_at("No effusion.", start, end)


def test_span_without_token_raises_value_error() -> None:
    with pytest.raises(ValueError, match="holds no token"):
        polarity_at("No  effusion.", 2, 4)


def test_bad_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        polarity_at(None, 0, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="start must be an int"):
        polarity_at("No effusion.", 0.0, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="end must be an int"):
        polarity_at("No effusion.", 0, True)


def test_repeated_and_alternating_texts_give_the_same_answers() -> None:
    a, b = "No effusion.", "Small effusion."
    first = [polarity_at(a, *span_of(a, "effusion")), polarity_at(b, *span_of(b, "effusion"))]
    again = [polarity_at(a, *span_of(a, "effusion")), polarity_at(b, *span_of(b, "effusion"))]
    assert first == again == ["negative", "positive"]
