"""The judge's compiled merge and scoring (clinical.encoded, clinical.records) against its
interpreter path.

Both paths of ``OfflineClinicalJudge.score_batch`` must give the same floats, bit for bit:
on fresh reports like a policy's (with measurements, typos and never-seen words), on
generated reports that exercise every attribute and rewrite of the judge, and across the
store's restarts. The golden digests (test_judge_golden.py) run both paths too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from himed_rewards.clinical import OfflineClinicalJudge, encoded, records

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the shared path switch
sys.path.insert(0, str(ROOT / "benchmarks"))  # FreshText
from _common import FreshText, finding_of  # noqa: E402
from judge_paths import judge_path  # noqa: E402

JUDGE = OfflineClinicalJudge()


def _scores(candidates: list[str], references: list[str], kernel: bool) -> list[tuple]:
    with judge_path(kernel):
        verdicts = JUDGE.score_batch(candidates, references)
    return [(v.accuracy, v.relevance, v.completeness, v.source, v.error) for v in verdicts]


def _assert_same(candidates: list[str], references: list[str]) -> None:
    python = _scores(candidates, references, kernel=False)
    compiled = _scores(candidates, references, kernel=True)
    differ = [k for k, (a, b) in enumerate(zip(python, compiled, strict=True)) if a != b]
    assert not differ, (f"{len(differ)} pairs differ, first: {candidates[differ[0]]!r} vs "
                        f"{references[differ[0]]!r}: {python[differ[0]]} != {compiled[differ[0]]}")


@pytest.mark.parametrize("new_words", [False, True])
def test_fresh_batches_score_the_same(new_words: bool) -> None:
    fresh = FreshText(seed=11 + new_words, new_word_per_sentence=new_words)
    for k in range(4):
        candidates, references = fresh.grpo_batch(8, 16) if k % 2 else fresh.distinct_batch(128)
        _assert_same([finding_of(c) for c in candidates], references)


# Pieces of reports that reach every part of the merge and the scoring: sides, zones, sites
# and the predominant side; severity and sizes; interval change; device position (and the
# malposition that ends a normal study); negation and uncertainty; normal statements; the
# interchangeable terms and the apical lucency; the ": no" trigger; filler and repeats.
_PIECES = [
    "Small left pleural effusion.", "Large right pleural effusion", "Bilateral effusions, left "
    "greater than right.", "Right greater than left pleural effusions.", "No pleural effusion.",
    "Moderate cardiomegaly.", "Heart size is normal.", "Mild pulmonary edema.",
    "Vascular congestion.", "Possible right lower lobe pneumonia.", "Left lower lobe "
    "consolidation", "Right upper lobe and left midlung opacities.", "Opacity in the lingula",
    "Bibasilar atelectasis.", "Perihilar opacities bilaterally.", "Upper lobes bilaterally "
    "show scarring.", "A 7 mm nodule in the right upper lobe.", "Nodule measuring 2.5 cm.",
    "3.2 cm mass in the left lower lobe", "New right pneumothorax.", "Small apical "
    "pneumothorax is stable.", "Lucency at the right apex.", "Improved left basilar "
    "atelectasis.", "Worsening edema.", "Endotracheal tube in place.", "Malpositioned ETT, "
    "tip in the right main bronchus.", "NG tube terminates in the stomach.", "Pneumothorax: no.",
    "Findings: no effusion.", "No acute cardiopulmonary abnormality.", "Lungs are clear.",
    "Thank you for the referral.", "Degenerative changes of the spine.", "Granuloma in the "
    "right upper lobe", "May represent atelectasis or pneumonia", "Tension pneumothorax on the "
    "left.", "Severe emphysema.", "Trace bilateral pleural effusions", "Hiatal hernia.",
    "Mildly enlarged cardiomediastinal silhouette.", "Calcified granuloma.", "Rib fracture "
    "on the right", "No pneumothorax or effusion", "Stable mild cardiomegaly.", "-", "",
    "Tortuous aorta; no focal consolidation!", "Pneumoperitoneum? Free air under the diaphragm",
]
# Measurements with numbers of every kind: sentences that differ from one met before only in
# their numbers take the judge's shortest way (a record written from the earlier one's),
# unless a size falls outside what is kept ("0 cm", "9999 cm": then the interpreter's).
_NUMBERS = st.one_of(st.integers(0, 12), st.integers(0, 99999),
                     st.decimals(0, 50, places=2).map(str), st.just("1.2.3"))
_MEASURED = st.builds(
    "{} measuring {} {}{}".format,
    st.sampled_from(["Nodule", "Right upper lobe nodule", "No nodule", "Mass", "Left effusion"]),
    _NUMBERS, st.sampled_from(["mm", "cm", "millimeter", "cm in size", "mm and 4 mm"]),
    st.sampled_from([".", ". ", ", stable.", ". Measuring 3 mm."]))
_reports = st.lists(st.sampled_from(_PIECES) | _MEASURED, min_size=0, max_size=7).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_reports, _reports), min_size=1, max_size=12))
def test_generated_reports_score_the_same(pairs: list[tuple[str, str]]) -> None:
    candidates = [c for c, _ in pairs]
    references = [r for _, r in pairs]
    _assert_same(candidates, references)
    _assert_same(references, candidates)


def test_groups_sharing_a_reference_and_edge_texts_score_the_same() -> None:
    reference = " ".join(_PIECES[:6])
    candidates = [" ".join(_PIECES[k:k + 4]) for k in range(len(_PIECES))] + ["", " ", "-"]
    _assert_same(candidates, [reference] * len(candidates))
    _assert_same(["", "", "No effusion."], ["", "Edema.", ""])


def test_a_full_store_restarts_with_the_same_scores(monkeypatch) -> None:
    monkeypatch.setattr(records, "_MAX_SENTENCES", 8)
    fresh = FreshText(seed=5)
    for _ in range(3):
        candidates, references = fresh.distinct_batch(40)
        _assert_same([finding_of(c) for c in candidates], references)
        assert encoded._STORE.count <= 8 + 40 * 16  # restarted before each batch


def test_a_name_the_kernel_lacks_falls_back_to_the_interpreter(monkeypatch) -> None:
    texts = ["Small left pleural effusion.", "Mild cardiomegaly. No pneumothorax."]
    python = _scores(texts, texts[::-1], kernel=False)
    with judge_path(kernel=True):
        encoded._STORE.reset()  # every sentence is written again, now with a name missing
        ids = {k: v for k, v in records._ID.items() if k != "pleural_effusion"}
        monkeypatch.setattr(records, "_ID", ids)
        verdicts = JUDGE.score_batch(texts, texts[::-1])
        assert encoded._STORE.count == 0  # the half-written batch was dropped
    assert [(v.accuracy, v.relevance, v.completeness, v.source, v.error)
            for v in verdicts] == python


def test_readiness_reads_the_disk_cache_at_most_once_a_second(monkeypatch) -> None:
    from himed_rewards.kernels import _precompile

    calls = []

    def cached(dispatcher, args):
        calls.append(args)
        return False

    monkeypatch.setattr(_precompile, "compiled_or_cached", cached)
    monkeypatch.setitem(encoded._READY, "ready", False)
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    assert encoded.kernel_ready() is False
    assert encoded.kernel_ready() is False  # within the second: not read again
    assert len(calls) == 1  # (the first kernel is not cached: no need to ask for the second)
    assert calls[0] == encoded._calls()[0][1]
    monkeypatch.setattr(_precompile, "compiled_or_cached", lambda dispatcher, args: True)
    monkeypatch.setitem(encoded._READY, "checked", -10.0)
    assert encoded.kernel_ready() is True


def test_the_kernel_is_used_once_ready_for_batches_worth_it(monkeypatch) -> None:
    texts = ["Small left pleural effusion.", "No effusion.", "Mild cardiomegaly."]
    with judge_path(kernel=True):
        encoded._STORE.reset()
        JUDGE.score_batch(texts, texts[::-1])
        assert encoded._STORE.count == 3  # every sentence written: the kernel's path
    with judge_path(kernel=False):
        encoded._STORE.reset()
        JUDGE.score_batch(texts, texts[::-1])
        assert encoded._STORE.count == 0
    monkeypatch.setitem(encoded._READY, "ready", True)  # ready, but a batch of two pairs
    encoded._STORE.reset()
    JUDGE.score_batch(texts[:2], texts[1:])
    assert encoded._STORE.count == 0  # costs less in the interpreter
    JUDGE.score_batch(texts, texts[::-1])
    assert encoded._STORE.count == 3


def test_sentences_that_differ_only_in_numbers_score_the_same(monkeypatch) -> None:
    # Each batch has the shapes of the one before with other numbers; from the second on,
    # a sentence whose digit mask was met before is written from that one's record (the
    # template way), except when a size is out of range ("0 cm", "99999 cm").
    shapes = ["Nodule measuring {} cm.", "Right upper lobe nodule measuring {} mm, stable.",
              "{} mm and {} mm nodules.", "Mass measuring {} cm. No effusion.",
              "No nodule measuring {} cm."]
    numbers = ["7", "1.25", "0", "0.0", "99999", "12.75", "3", "4", "9.5", "10.00"]
    encoded._STORE.reset()
    written = []
    from_template = encoded._STORE._from_template

    def counted(*args):
        number = from_template(*args)
        written.append(number is not None)
        return number

    monkeypatch.setattr(encoded._STORE, "_from_template", counted)
    for shift in range(4):
        texts = [shape.format(*[numbers[(k + shift) % len(numbers)]] * shape.count("{}"))
                 for k, shape in enumerate(shapes * 4)]
        _assert_same(texts, texts[::-1])
    assert any(written) and not all(written)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[0-9]+(\.[0-9]+)?", fullmatch=True))
def test_a_number_is_its_own_key(number: str) -> None:
    # The template way writes a number into a record's keys as it stands (records.py): what
    # the analysis would key it by, token_keys(number)[0]
    from himed_rewards.clinical.rules import token_keys

    assert token_keys(number)[0] == number


def test_threads_scoring_at_once_get_the_interpreters_scores() -> None:
    from concurrent.futures import ThreadPoolExecutor

    batches = []
    fresh = FreshText(seed=31)
    for _ in range(8):
        candidates, references = fresh.distinct_batch(24)
        batches.append(([finding_of(c) for c in candidates], references))
    want = [_scores(c, r, kernel=False) for c, r in batches]
    with judge_path(kernel=True):
        encoded._STORE.reset()
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda batch: [
                (v.accuracy, v.relevance, v.completeness, v.source, v.error)
                for v in JUDGE.score_batch(*batch)], batches))
    assert got == want
