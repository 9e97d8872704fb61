"""The medical-keyword bonus: vocabulary, matching, bonus formula and the two options."""

from __future__ import annotations

import csv
import importlib
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.rewards.keywords import (
    KeywordVocabulary,
    find_keywords,
    keyword_bonus,
    keyword_bonus_batch,
    token_char_spans,
)
from himed_rewards.text import encode, get_tokenizer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "iu_xray"
DATA = ROOT / "himed_rewards" / "data" / "keywords"


def read_reports(name: str) -> dict[str, str]:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return {row["study_id"]: row["report"] for row in csv.DictReader(handle)}


def ids(text: str) -> np.ndarray:
    return encode(text, get_tokenizer("default"))


def found(text: str, vocabulary=None) -> set[str]:
    return {m.keyword for m in find_keywords(text, vocabulary)}


# --- the shipped vocabulary -------------------------------------------------------------


@pytest.mark.parametrize("word", ["left", "size", "normal", "the", "is", "right", "small"])
def test_generic_words_are_not_keywords(word):
    assert word not in KeywordVocabulary.default()
    assert found(f"The {word} is {word}.") == set()


def test_boilerplate_sentence_pays_only_for_its_clinical_words():
    assert found("The size is normal on the left and right side.") == set()
    assert found("No acute abnormality. Stable appearance.") == set()


def test_shipped_vocabulary_sources_and_notice():
    vocabulary = KeywordVocabulary.default()
    assert vocabulary is KeywordVocabulary.default()  # cached
    assert vocabulary.signature().startswith(f"keywords:himed:{len(vocabulary)}:")
    rows = (DATA / "keywords.tsv").read_text(encoding="utf-8").splitlines()[3:]
    sources = {s for row in rows for s in row.split("\t")[2].split(",")}
    assert sources == {"board", "chexpert", "radiology_semantic_dict", "radlex"}
    assert len(rows) == len(vocabulary)
    notice = (DATA / "NOTICE").read_text(encoding="utf-8")
    for needle in ("RSNA", "RadLex", "Stanford Machine Learning Group", "MIT License"):
        assert needle in notice
    for keyword in ("pneumothorax", "pleural effusion", "cardiomegaly", "atelectasis",
                    "calcified granuloma", "lung", "tree-in-bud"):  # fmt: skip
        assert keyword in vocabulary


def test_variants_are_one_keyword_and_repeats_count_once():
    bonus, matched = keyword_bonus("Effusion. Effusions. Bilateral effusions and an effusion.")
    assert matched == ("effusion",)
    assert bonus == pytest.approx(0.05)


def test_nested_keywords_count_separately():
    matches = find_keywords("Large pleural effusion.")
    assert [(m.keyword, m.start, m.end) for m in matches] == [
        ("pleural effusion", 1, 3),
        ("effusion", 2, 3),
    ]
    assert keyword_bonus("Large pleural effusion.")[1] == ("effusion", "pleural effusion")


def test_real_iu_xray_references_match_sensible_keywords():
    references = read_reports("gts.csv")
    report = references["CXR38_IM-1911"]  # "Lungs are clear. There is no pneumothorax ..."
    assert {"lung", "pneumothorax", "pleural effusion", "heart", "mediastinum"} <= found(report)
    with_keywords = sum(bool(find_keywords(text)) for text in references.values())
    assert with_keywords / len(references) > 0.95
    every = set().union(*(found(text) for text in references.values()))
    assert {"cardiomegaly", "atelectasis", "granuloma", "consolidation"} <= every
    assert not every & {"left", "right", "size", "normal", "clear", "acute", "the", "is"}


# --- the bonus ----------------------------------------------------------------------------


def test_bonus_formula_and_cap():
    text = "Cardiomegaly, pneumothorax, atelectasis, consolidation, emphysema, scoliosis."
    bonus, matched = keyword_bonus(text)
    assert len(matched) == 6 and bonus == pytest.approx(0.25)  # min(0.05 * 6, 0.25)
    bonus, _ = keyword_bonus(text, beta=0.01)
    assert bonus == pytest.approx(0.06)
    bonus, _ = keyword_bonus(text, cap=1.0)
    assert bonus == pytest.approx(0.30)
    assert keyword_bonus("", beta=1.0) == (0.0, ())
    assert keyword_bonus(text, cap=0.0)[0] == 0.0


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [
        ("beta", -0.1, ValueError),
        ("beta", math.nan, ValueError),
        ("beta", math.inf, ValueError),
        ("cap", -1, ValueError),
        ("cap", math.inf, ValueError),
        ("beta", True, TypeError),
        ("cap", "0.25", TypeError),
    ],
)
def test_bad_weights_are_rejected(argument, value, error):
    with pytest.raises(error, match=argument):
        keyword_bonus("Effusion.", **{argument: value})


def test_bad_inputs_are_rejected():
    with pytest.raises(TypeError, match="report"):
        keyword_bonus(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="vocabulary"):
        keyword_bonus("Effusion.", vocabulary=["effusion"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="references"):
        keyword_bonus("Effusion.", grounded=True)
    with pytest.raises(ValueError, match="references must align"):
        keyword_bonus_batch(["a", "b"], ["a"], grounded=True)
    with pytest.raises(TypeError, match="reports"):
        keyword_bonus_batch("Effusion.")  # type: ignore[arg-type]


def test_ids_and_text_give_the_same_bonus_and_batch_equals_single():
    predictions = list(read_reports("preds.csv").values())[:80]
    references = list(read_reports("gts.csv").values())[:80]
    batch = keyword_bonus_batch(
        [ids(p) for p in predictions], [ids(r) for r in references], grounded=True
    )
    pairs = zip(predictions, references, strict=True)
    single = [keyword_bonus(p, r, grounded=True) for p, r in pairs]
    assert batch == single
    assert keyword_bonus_batch(predictions) == [keyword_bonus(ids(p)) for p in predictions]


def test_grounded_counts_only_keywords_the_reference_has():
    report = "Cardiomegaly. Small pneumothorax."
    assert keyword_bonus(report, "Pneumothorax on the right.", grounded=True)[1] == (
        "pneumothorax",
    )
    assert keyword_bonus(report, "No acute disease.", grounded=True) == (0.0, ())
    assert len(keyword_bonus(report, "No acute disease.")[1]) == 2  # off: the paper's formula


# --- negation_aware ----------------------------------------------------------------------


def stand_in_polarity(text: str, start: int, end: int) -> str:
    """A small, real rule: negated after 'no' in the same sentence, uncertain after 'may'."""
    sentence = text[: start].rsplit(".", 1)[-1].lower().split()
    if "no" in sentence or "without" in sentence:
        return "negative"
    if "may" in sentence or "possible" in sentence:
        return "uncertain"
    return "positive"


@pytest.fixture
def stand_in(monkeypatch):
    try:
        module = importlib.import_module("himed_rewards.clinical.negation")
        monkeypatch.setattr(module, "polarity_at", stand_in_polarity)
    except ImportError:  # written before the negation module existed
        fake = types.ModuleType("himed_rewards.clinical.negation")
        fake.polarity_at = stand_in_polarity
        monkeypatch.setitem(sys.modules, "himed_rewards.clinical.negation", fake)


def test_negation_aware_drops_keywords_whose_polarity_flips(stand_in):
    reference = "No pneumothorax. Small pleural effusion."
    bonus, matched = keyword_bonus("Pneumothorax. No pleural effusion. Cardiomegaly.",
                                   reference, negation_aware=True)  # fmt: skip
    assert matched == ("cardiomegaly",)  # absent from the reference: left to `grounded`
    same = keyword_bonus("No pneumothorax. Pleural effusion.", reference, negation_aware=True)
    assert same[1] == ("effusion", "pleural effusion", "pneumothorax")
    both = keyword_bonus("Pneumothorax. Cardiomegaly.", reference,
                         negation_aware=True, grounded=True)  # fmt: skip
    assert both == (0.0, ())


def test_negation_aware_aggregates_occurrences_like_chexpert(stand_in):
    # Affirmed anywhere -> positive: writing both polarities cannot match a negative reference.
    hedge = "Pneumothorax. No pneumothorax."
    assert keyword_bonus(hedge, "No pneumothorax.", negation_aware=True)[1] == ()
    assert keyword_bonus(hedge, "Pneumothorax.", negation_aware=True)[1] == ("pneumothorax",)
    maybe = keyword_bonus("May be pneumothorax.", "Possible pneumothorax.", negation_aware=True)
    assert maybe[1] == ("pneumothorax",)


def test_negation_aware_with_id_arrays_needs_the_texts(stand_in):
    report, reference = "Pneumothorax.", "No pneumothorax."
    with pytest.raises(TypeError, match="report_texts"):
        keyword_bonus_batch([ids(report)], [ids(reference)], negation_aware=True)
    got = keyword_bonus_batch([ids(report)], [ids(reference)], negation_aware=True,
                              report_texts=[report], reference_texts=[reference])  # fmt: skip
    assert got == [(0.0, ())]


def test_negation_aware_with_the_real_polarity_module():
    negation = pytest.importorskip("himed_rewards.clinical.negation")
    assert callable(negation.polarity_at)
    reference = "No pneumothorax. No pleural effusion."
    flipped = keyword_bonus("There is a pneumothorax. No pleural effusion.", reference,
                            negation_aware=True)  # fmt: skip
    assert "pneumothorax" not in flipped[1]
    assert "pleural effusion" in flipped[1]


# --- user vocabularies and char spans ----------------------------------------------------


def test_user_vocabulary(tmp_path):
    mine = KeywordVocabulary(["Left", ("port", "ports"), "port"], source="mine")
    assert mine.keywords == ("Left", "port")
    assert mine.signature().startswith("keywords:mine:2:")
    assert mine.signature() != KeywordVocabulary(["left", "port"]).signature()
    assert keyword_bonus("Left ports, left port.", vocabulary=mine)[1] == ("Left", "port")
    path = tmp_path / "mine.txt"
    path.write_text("# my list\nport | ports\n\nleft\n", encoding="utf-8")
    loaded = KeywordVocabulary.from_file(str(path), source="file")
    assert loaded.forms == (("port", "ports"), ("left",))
    shipped = KeywordVocabulary.from_file(str(DATA / "keywords.tsv"), source="himed")
    assert shipped.signature() == KeywordVocabulary.default().signature()


@pytest.mark.parametrize(
    ("keywords", "error"),
    [([], ValueError), (["  "], ValueError), ([3], TypeError), ("effusion", TypeError),
     ([()], TypeError)],
)  # fmt: skip
def test_user_vocabulary_rejects_bad_lists(keywords, error):
    with pytest.raises(error, match="keywords"):
        KeywordVocabulary(keywords)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("aB1 .,-/:;_()\u0130\u00df\u00e9x"), max_size=40))
def test_token_char_spans_agree_with_the_tokenizer(text):
    lowered, spans = token_char_spans(text)
    assert [lowered[s:e] for s, e in spans] == get_tokenizer("default")(text)


def test_token_char_spans_on_real_reports():
    for text in list(read_reports("gts.csv").values())[:200]:
        lowered, spans = token_char_spans(text)
        assert len(spans) == len(ids(text))
        assert all(0 <= s < e <= len(lowered) for s, e in spans)


def test_flat_fast_path_equals_the_batch_form():
    import csv
    from pathlib import Path

    from himed_rewards.metrics._layout import concat
    from himed_rewards.rewards.keywords import (
        KeywordVocabulary,
        keyword_bonus_batch,
        keyword_bonus_flat,
    )
    from himed_rewards.text import encode, get_tokenizer

    path = Path(__file__).parents[1] / "fixtures" / "iu_xray" / "gts.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        reports = [row["report"] for row in csv.DictReader(handle)] + ["", "no"]
    ids = [encode(r, get_tokenizer("default")) for r in reports]
    flat, offsets = concat(ids)
    vocabulary = KeywordVocabulary.default()
    for beta, cap in ((0.05, 0.25), (0.1, 10.0), (0.0, 0.0)):
        assert keyword_bonus_flat(flat, offsets, vocabulary=vocabulary, beta=beta, cap=cap) == \
            keyword_bonus_batch(ids, vocabulary=vocabulary, beta=beta, cap=cap)
