"""Golden outputs of the offline clinical judge: speed work must not change a single bit.

For every case of three sets (the 590 IU X-ray pairs, the RadJudge candidates, and fresh
reports from ``benchmarks/_common.FreshText`` with a fixed seed, scored alone and in GRPO
groups that share a reference) the test renders everything the judge exposes, exact floats
included (``float.hex``): the verdict, ``label_report`` and ``describe_with_filler`` of both
texts, and for the IU references ``polarity_at`` of every word. Each case is hashed;
``tests/fixtures/clinical_golden.json`` holds the digests case by case, so a failure names
the cases that changed.

The verdicts are computed twice, by the judge's interpreter path and by its compiled merge
and scoring (``clinical.encoded``): both must match the recording.

Recorded before the speed work of issue 13. When the rules change on purpose, re-record
(and say so in the commit)::

    PYTHONPATH=$PWD python3 tests/clinical/test_judge_golden.py --record
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the shared path switch
from judge_paths import judge_path  # noqa: E402

GOLDEN = ROOT / "tests" / "fixtures" / "clinical_golden.json"
_WORD = re.compile(r"[A-Za-z]+")
_FRESH_SEED = 20260
_FRESH_REPORTS = 3000
_GROUP = 16


def _fx(x: float) -> str:
    return float(x).hex()


def _state_text(state) -> str:
    return (f"{state.polarity}|{sorted(state.sides)}|{sorted(state.zones)}|"
            f"{_fx(state.severity)}|{_fx(state.size_mm)}|{sorted(state.change)}|"
            f"{state.position}|{sorted(state.sites)}|{state.dominant}")  # fmt: skip


def _text_view(text: str) -> str:
    """Everything the labeler and the attribute layer say about one text."""
    from himed_rewards.clinical import label_report
    from himed_rewards.clinical.attributes import describe_with_filler

    states, filler = describe_with_filler(text)
    described = ";".join(f"{f}={_state_text(s)}" for f, s in states.items())  # order kept
    return f"labels={list(label_report(text).items())}|filler={filler}|states={described}"


def _verdict_text(verdict) -> str:
    return (f"{_fx(verdict.accuracy)},{_fx(verdict.relevance)},{_fx(verdict.completeness)},"
            f"{verdict.error},{verdict.source}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _pair_digests(candidates: list[str], references: list[str], batch: int) -> list[str]:
    """One digest per pair: its verdict (scored in batches of ``batch``) and both texts."""
    from himed_rewards.clinical import OfflineClinicalJudge

    judge = OfflineClinicalJudge()
    verdicts = []
    for k in range(0, len(candidates), batch):
        verdicts += judge.score_batch(candidates[k:k + batch], references[k:k + batch])
    views: dict[str, str] = {}
    out = []
    for cand, ref, verdict in zip(candidates, references, verdicts, strict=True):
        for text in (cand, ref):
            if text not in views:
                views[text] = _text_view(text)
        out.append(_digest(f"{_verdict_text(verdict)}\n{views[cand]}\n{views[ref]}"))
    return out


def _benchmark_helpers():
    """``benchmarks/_common`` (the IU pairs loader and FreshText), importable from here."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    import _common

    return _common


def _iu_cases() -> dict[str, list[str]]:
    from himed_rewards.clinical import polarity_at

    hyps, refs = _benchmark_helpers().pairs()
    polarities = []
    for ref in refs:
        spans = [m.span() for m in _WORD.finditer(ref)]
        polarities.append(_digest(",".join(polarity_at(ref, s, e) for s, e in spans)))
    return {"iu_pairs": _pair_digests(hyps, refs, 64),
            "iu_swapped": _pair_digests(refs, hyps, 64),
            "iu_polarity_at": polarities}


def _radjudge_cases() -> dict[str, list[str]]:
    cases = json.loads((ROOT / "tests" / "fixtures" / "radjudge" / "radjudge_cases.json")
                       .read_text(encoding="utf-8"))  # fmt: skip
    candidates, truths = [], []
    for category in cases["categories"]:
        for test in category["tests"]:
            for candidate in test["candidates"].values():
                candidates.append(candidate["text"])
                truths.append(test["ground_truth"])
    return {"radjudge": _pair_digests(candidates, truths, 1)}


def _fresh_cases() -> dict[str, list[str]]:
    fresh = _benchmark_helpers().FreshText(seed=_FRESH_SEED)
    reports = [fresh.report() for _ in range(_FRESH_REPORTS)]
    # Each report against the next (distinct pairs), and GRPO groups: 16 candidates, one
    # reference, scored as one batch (the judge labels the shared reference once).
    n_groups = len(reports) // (_GROUP + 1)
    grpo_c, grpo_r = [], []
    for g in range(n_groups):
        block = reports[g * (_GROUP + 1):(g + 1) * (_GROUP + 1)]
        grpo_c += block[1:]
        grpo_r += [block[0]] * _GROUP
    return {"fresh_pairs": _pair_digests(reports[:-1], reports[1:], 512),
            "fresh_grpo": _pair_digests(grpo_c, grpo_r, 32 * _GROUP)}


def compute() -> dict[str, list[str]]:
    """Digests of every case set, recomputed from the current code."""
    return {**_iu_cases(), **_radjudge_cases(), **_fresh_cases()}


@pytest.fixture(scope="module")
def recorded() -> dict[str, list[str]]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module", params=["interpreter", "kernel"])
def current(request) -> dict[str, list[str]]:
    with judge_path(kernel=request.param == "kernel"):
        return compute()


@pytest.mark.parametrize("case_set", ["iu_pairs", "iu_swapped", "iu_polarity_at", "radjudge",
                                      "fresh_pairs", "fresh_grpo"])  # fmt: skip
def test_outputs_match_the_recording(recorded, current, case_set: str) -> None:
    want, got = recorded[case_set], current[case_set]
    assert len(got) == len(want) > 0
    changed = [k for k, (w, g) in enumerate(zip(want, got, strict=True)) if w != g]
    assert not changed, f"{len(changed)} {case_set} cases changed, first: {changed[:10]}"


def test_every_case_set_is_recorded(recorded) -> None:
    sizes = {name: len(digests) for name, digests in recorded.items()}
    assert sizes["iu_pairs"] == sizes["iu_swapped"] == sizes["iu_polarity_at"] == 590
    assert sizes["radjudge"] >= 60
    assert sizes["fresh_pairs"] == _FRESH_REPORTS - 1
    assert sizes["fresh_grpo"] == (_FRESH_REPORTS // (_GROUP + 1)) * _GROUP


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(f"usage: {sys.argv[0]} --record  (rewrites {GOLDEN.name})")
    cases = compute()
    GOLDEN.write_text(json.dumps({
        "about": "sha256[:16] per case of the offline clinical judge's outputs; written by "
                 "tests/clinical/test_judge_golden.py --record",
        "cases": cases,
    }, indent=0) + "\n", encoding="utf-8")
    print({name: len(digests) for name, digests in cases.items()})
