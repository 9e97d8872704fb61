"""Conventions ``r2gen`` and ``cxr-metric`` equal the code papers ran, on the 590 real pairs.

The reference functions below re-state, line for line, the code of:

* zhjohnchan/R2Gen @ e8cd3cfd08acb819311ecb0d68be16d485cbf64c, ``modules/tokenizers.py``
  lines 35-44 (``clean_report_iu_xray``) and 46-59 (``clean_report_mimic_cxr``);
* rajpurkarlab/CXR-Report-Metric @ 9c9ecad39be6cb2be8e75be1d1c50ef8888a3e40,
  ``CXRMetric/run_eval.py`` lines 72-76 (``prep_reports``) and 78-93 (``add_bleu_col``: BLEU
  with weights (1/2, 1/2) from fast_bleu, whose default ``smoothing_func=1`` is NLTK's
  method1); its published per-report scores are ``fixtures/iu_xray/report_scores.csv``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.evaluation import evaluate
from himed_rewards.evaluation.cleaning import clean_report_iu_xray, clean_report_mimic_cxr
from himed_rewards.evaluation.conventions import CONVENTIONS, get_convention
from himed_rewards.evaluation.cxr_metric import cxr_metric_bleu

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iu_xray"


# --- R2Gen modules/tokenizers.py:35-44, restated (lambdas as functions) -------------------
def r2gen_iu(report):
    def report_cleaner(t):
        return t.replace('..', '.').replace('..', '.').replace('..', '.').replace('1. ', '') \
            .replace('. 2. ', '. ').replace('. 3. ', '. ').replace('. 4. ', '. ') \
            .replace('. 5. ', '. ').replace(' 2. ', '. ').replace(' 3. ', '. ') \
            .replace(' 4. ', '. ').replace(' 5. ', '. ').strip().lower().split('. ')

    def sent_cleaner(t):
        return re.sub('[.,?;*!%^&_+():-\\[\\]{}]', '', t.replace('"', '').replace('/', '')
                      .replace('\\', '').replace("'", '').strip().lower())

    tokens = [sent_cleaner(sent) for sent in report_cleaner(report) if sent_cleaner(sent) != []]
    return ' . '.join(tokens) + ' .'


# --- R2Gen modules/tokenizers.py:46-59, restated -------------------------------------------
def r2gen_mimic(report):
    def report_cleaner(t):
        t = t.replace('\n', ' ')
        for _ in range(7):
            t = t.replace('__', '_')
        for _ in range(6):
            t = t.replace('  ', ' ')
        for _ in range(8):
            t = t.replace('..', '.')
        return t.replace('1. ', '').replace('. 2. ', '. ').replace('. 3. ', '. ') \
            .replace('. 4. ', '. ').replace('. 5. ', '. ').replace(' 2. ', '. ') \
            .replace(' 3. ', '. ').replace(' 4. ', '. ').replace(' 5. ', '. ') \
            .strip().lower().split('. ')

    def sent_cleaner(t):
        return re.sub('[.,?;*!%^&_+():-\\[\\]{}]', '', t.replace('"', '').replace('/', '')
                      .replace('\\', '').replace("'", '').strip().lower())

    tokens = [sent_cleaner(sent) for sent in report_cleaner(report) if sent_cleaner(sent) != []]
    return ' . '.join(tokens) + ' .'


def _column(name, column):
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def test_cleaners_equal_r2gen_on_every_real_report(iu_eval):
    _, preds, refs = iu_eval
    texts = preds + refs + _column("indiana_reports.csv", "findings") + _column(
        "indiana_reports.csv", "impression")
    assert len(texts) > 8000
    for text in texts:
        assert clean_report_iu_xray(text) == r2gen_iu(text)
        assert clean_report_mimic_cxr(text) == r2gen_mimic(text)


REPORT_CHARS = st.text(alphabet=st.sampled_from(list("ab AZ12345.,;:?!()[]{}<=>@_-+*%^&/\\'\"\n"
                                                     "\tÉé°×")), max_size=60)


@settings(max_examples=400, deadline=None)
@given(REPORT_CHARS)
def test_cleaners_equal_r2gen_on_generated_text(text):
    assert clean_report_iu_xray(text) == r2gen_iu(text)
    assert clean_report_mimic_cxr(text) == r2gen_mimic(text)


def test_cleaners_reject_non_text():
    with pytest.raises(TypeError, match="report"):
        clean_report_iu_xray(None)


def test_r2gen_convention_equals_r2gen_cleaning_and_pycocoevalcap(iu_eval):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.rouge.rouge import Rouge

    _, preds, refs = iu_eval
    gts = {i: [r2gen_iu(r)] for i, r in enumerate(refs)}
    res = {i: [r2gen_iu(h)] for i, h in enumerate(preds)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    # BLEU and ROUGE-L only: the METEOR jar (Java) is exercised by the CLI tests.
    from himed_rewards.evaluation.statistics import compute_statistics

    s = compute_statistics(preds, refs, convention="r2gen",
                           only={"bleu1", "bleu2", "bleu3", "bleu4", "rougeL"})
    stats = {k: m.value() for k, m in s.metrics.items()}
    for order in range(4):
        assert stats[f"bleu{order + 1}"] == pytest.approx(bleu[order], rel=1e-12)
    assert stats["rougeL"] == pytest.approx(rouge, rel=1e-12)
    # The figures R2Gen-style papers print, against coco's 0.095 / 0.278 on the raw text.
    assert round(stats["bleu4"], 3) == 0.159 and round(stats["rougeL"], 3) == 0.390


# --- CXR-Report-Metric run_eval.py:72-76 (prep_reports), restated --------------------------
def prep_reports(reports):
    return [list(filter(lambda val: val != "", str(elem).lower().replace(".", " .").split(" ")))
            for elem in reports]


def test_cxr_metric_bleu_equals_published_per_report_scores(iu_eval):
    # The published file aligns predictions and references by row (its study_id is the row).
    preds = _column("report_scores.csv", "report")
    published = np.array([float(v) for v in _column("report_scores.csv", "bleu_score")])
    refs = _column("gts.csv", "report")
    assert preds == _column("preds.csv", "report") and len(preds) == 590
    ours = cxr_metric_bleu(preds, refs)
    assert np.abs(ours - published).max() <= 2e-16
    assert round(float(ours.mean()), 4) == 0.2704


def test_cxr_metric_tokens_are_prep_reports():
    texts = _column("gts.csv", "report")[:100] + ["a.b  c..", "", "No. 3.5 cm."]
    from himed_rewards.evaluation.cxr_metric import CxrMetricTokenizer

    tokenizer = CxrMetricTokenizer()
    assert [tokenizer(t) for t in texts] == prep_reports(texts)


def test_cxr_metric_convention_reports_the_mean_with_interval(iu_eval):
    _, preds, refs = iu_eval
    result = evaluate({"MoERad": preds[:50]}, refs[:50], convention="cxr-metric",
                      n_resamples=50)
    cell = result.scores["MoERad"]["cxr_bleu2"]
    assert cell.value == pytest.approx(float(cxr_metric_bleu(preds[:50], refs[:50]).mean()))
    assert cell.ci[0] <= cell.value <= cell.ci[1]
    assert "bleu4" not in result.scores["MoERad"]
    assert result.signature["bleu"]["order"] == 2


def test_every_convention_is_named_and_unknown_ones_rejected():
    assert {"default", "coco", "r2gen", "r2gen-mimic", "cxr-metric"} == set(CONVENTIONS)
    assert all(get_convention(c).summary for c in CONVENTIONS)
    with pytest.raises(ValueError, match="convention"):
        get_convention("papers")
