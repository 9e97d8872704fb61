"""BERTScore backend: the original ``bert-score`` package on a tiny BERT the test builds."""

from __future__ import annotations

import json

import pytest

from himed_rewards.cli.main import main
from himed_rewards.evaluation import Evaluator, evaluate
from himed_rewards.evaluation.bertscore import BertScoreUnavailable, load_bertscore

HYPS = ["no acute disease .", "small left effusion .", "the heart is normal in size ."]
REFS = ["no acute disease .", "small left pleural effusion .", "lungs are clear ."]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT with random weights and a WordPiece vocabulary, saved like a hub model."""
    pytest.importorskip("bert_score")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w for text in HYPS + REFS for w in text.split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    transformers.BertTokenizer(str(folder / "vocab.txt"),
                               model_max_length=128).save_pretrained(folder)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=128)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    return str(folder)


def test_scores_equal_bert_score_package(tiny_bert):
    from bert_score import BERTScorer

    ours = load_bertscore(tiny_bert, num_layers=2)(HYPS, REFS)
    _, _, f1 = BERTScorer(model_type=tiny_bert, num_layers=2, lang="en").score(HYPS, REFS)
    assert ours == pytest.approx(f1.tolist(), abs=1e-6)
    assert ours[0] == pytest.approx(1.0, abs=1e-5)  # identical reports
    assert ours[1] < 1.0


def test_evaluate_and_evaluator_report_bertscore(tiny_bert):
    scorer = load_bertscore(tiny_bert, num_layers=2)
    per_report = scorer(HYPS, REFS)
    result = Evaluator(["bertscore", "rougeL"], bertscore=scorer)(HYPS, REFS)
    assert result.per_sample["bertscore"] == pytest.approx(per_report, abs=1e-6)
    table = evaluate({"m": HYPS}, REFS, n_resamples=20, bertscore=scorer,
                     bertscore_info={"model": "tiny"})
    cell = table.scores["m"]["bertscore"]
    assert cell.value == pytest.approx(sum(per_report) / 3, abs=1e-6)
    assert table.signature["bertscore"] == {"model": "tiny"}


def test_eval_cli_bertscore_column(tiny_bert, tmp_path, capsys):
    (tmp_path / "p.txt").write_text("\n".join(HYPS) + "\n")
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n")
    out = tmp_path / "out"
    assert main(["eval", "--predictions", str(tmp_path / "p.txt"), "--references",
                 str(tmp_path / "r.txt"), "--resamples", "20", "--quiet", "--bertscore",
                 "--bertscore-model", tiny_bert, "--bertscore-layers", "2",
                 "--output-dir", str(out)]) == 0
    assert "| BERTScore |" in capsys.readouterr().out.splitlines()[0] + " |"
    results = json.loads((out / "results.json").read_text())
    assert results["signature"]["bertscore"]["model"] == tiny_bert


def test_missing_pieces_are_clear_errors(tmp_path, capsys):
    with pytest.raises(BertScoreUnavailable, match="bert-score"):
        load_bertscore(str(tmp_path / "absent"), num_layers=2)
    with pytest.raises(ValueError, match="needs bertscore="):
        Evaluator(["bertscore"])
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n")
    assert main(["eval", "--predictions", str(tmp_path / "r.txt"), "--references",
                 str(tmp_path / "r.txt"), "--bertscore",
                 "--bertscore-model", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert "absent" in err and "Nothing is downloaded" in err
