"""CheXbert backend on a tiny labeler the test builds, against CheXbert's own procedure.

The reference below re-states, from rajpurkarlab/CXR-Report-Metric @
9c9ecad39be6cb2be8e75be1d1c50ef8888a3e40, ``CXRMetric/CheXbert/src/models/bert_labeler.py``
lines 5-50 (the labeler: BERT, dropout, 13 four-class heads and one two-class head on the
[CLS] state), ``src/bert_tokenizer.py`` lines 7-29 (report cleaning and encoding) and
``src/label.py`` lines 54-105 (checkpoint loading without ``module.``, argmax per head). The
BERT is built from a configuration instead of ``from_pretrained('bert-base-uncased')``
(no download), with the same module layout.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import numpy as np  # noqa: E402

from himed_rewards.cli.main import main  # noqa: E402
from himed_rewards.evaluation import Evaluator, evaluate, micro_f1  # noqa: E402
from himed_rewards.evaluation.chexbert import (  # noqa: E402
    ChexbertUnavailable,
    chexbert_counts,
    load_chexbert,
)

REPORTS = ["No acute disease.", "Small left pleural effusion.\n\nHeart is normal.",
           "Cardiomegaly with mild edema.", "", "Lungs are clear. No pneumothorax."]
REFS = ["No acute disease.", "Left pleural effusion.", "Enlarged heart. Edema.",
        "Normal chest.", "No pneumothorax."]


class BertLabeler(torch.nn.Module):  # bert_labeler.py:5-50
    def __init__(self, config, p=0.1):
        super().__init__()
        self.bert = transformers.BertModel(config)
        self.dropout = torch.nn.Dropout(p)
        hidden_size = self.bert.pooler.dense.in_features
        self.linear_heads = torch.nn.ModuleList(
            [torch.nn.Linear(hidden_size, 4, bias=True) for _ in range(13)])
        self.linear_heads.append(torch.nn.Linear(hidden_size, 2, bias=True))

    def forward(self, source_padded, attention_mask):
        final_hidden = self.bert(source_padded, attention_mask=attention_mask)[0]
        cls_hidden = final_hidden[:, 0, :].squeeze(dim=1)
        cls_hidden = self.dropout(cls_hidden)
        return [self.linear_heads[i](cls_hidden) for i in range(14)]


def reference_labels(model, tokenizer, reports):
    """bert_tokenizer.py:7-29 and label.py:54-105, for one batch."""
    import re

    encoded = []
    for report in reports:
        imp = re.sub(r"\s+", " ", report.strip().replace("\n", " ")).strip()
        tokens = tokenizer.tokenize(imp)
        if tokens:
            if hasattr(tokenizer, "encode_plus"):  # transformers < 5
                res = tokenizer.encode_plus(tokens)["input_ids"]
            else:  # transformers 5 dropped encode_plus: the tokenizer's own call gives the
                res = tokenizer(imp)["input_ids"]  # same [CLS] pieces [SEP] for BERT
            if len(res) > 512:
                res = res[:511] + [tokenizer.sep_token_id]
            encoded.append(res)
        else:
            encoded.append([tokenizer.cls_token_id, tokenizer.sep_token_id])
    width = max(len(e) for e in encoded)
    batch = torch.tensor([e + [0] * (width - len(e)) for e in encoded])
    mask = torch.zeros_like(batch)
    for i, e in enumerate(encoded):
        mask[i, :len(e)] = 1
    model.eval()
    with torch.no_grad():
        out = model(batch, mask)
    return np.stack([o.argmax(dim=1).numpy() for o in out], axis=1)


@pytest.fixture(scope="module")
def tiny_chexbert(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-chexbert")
    words = sorted({w.strip(".").lower() for t in REPORTS + REFS for w in t.split()} - {""})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *words]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = transformers.BertTokenizer(str(folder / "vocab.txt"), model_max_length=512)
    tokenizer.save_pretrained(folder)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=512)
    config.save_pretrained(folder)
    torch.manual_seed(1)
    model = BertLabeler(config)
    for head in model.linear_heads:  # spread the logits so each head's argmax varies
        torch.nn.init.normal_(head.weight, std=2.0)
    checkpoint = folder / "chexbert.pth"
    # the published checkpoint was saved from nn.DataParallel: "module."-prefixed keys
    torch.save({"model_state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}},
               checkpoint)
    return str(checkpoint), str(folder), model, tokenizer


def test_labels_equal_chexbert_procedure(tiny_chexbert):
    checkpoint, bert, model, tokenizer = tiny_chexbert
    ours = load_chexbert(checkpoint, bert)(REPORTS + REFS)
    assert ours.shape == (10, 14)
    assert np.array_equal(ours, reference_labels(model, tokenizer, REPORTS + REFS))
    assert len(np.unique(ours)) > 1


def test_chexbert_f1_through_evaluate_and_evaluator(tiny_chexbert):
    checkpoint, bert, model, tokenizer = tiny_chexbert
    labeler = load_chexbert(checkpoint, bert)
    labels = reference_labels(model, tokenizer, REPORTS + REFS)
    expected = micro_f1(chexbert_counts(labels[:5], labels[5:])[None].sum(1))[0]
    table = evaluate({"m": REPORTS}, REFS, n_resamples=20, chexbert=labeler,
                     chexbert_info={"checkpoint": "tiny"})
    value = table.scores["m"]["chexbert_f1_micro"].value
    assert (value is None and np.isnan(expected)) or value == pytest.approx(expected)
    result = Evaluator(["chexbert_f1_micro", "chexbert_f1_macro"], chexbert=labeler)(REPORTS,
                                                                                      REFS)
    assert result.corpus["chexbert_f1_micro"] == value
    assert len(result.per_sample["chexbert_f1_macro"]) == 5


def test_missing_or_wrong_checkpoint_is_a_clear_error(tiny_chexbert, tmp_path, capsys):
    _, bert, _, _ = tiny_chexbert
    with pytest.raises(ChexbertUnavailable, match="no checkpoint file"):
        load_chexbert(str(tmp_path / "absent.pth"), bert)
    wrong = tmp_path / "wrong.pth"
    torch.save({"model_state_dict": {"module.linear_heads.0.weight": torch.zeros(3, 3)}}, wrong)
    with pytest.raises(ChexbertUnavailable, match="does not fit|lacks CheXbert weights"):
        load_chexbert(str(wrong), bert)
    with pytest.raises(ValueError, match="chexbert=load_chexbert"):
        Evaluator(["chexbert_f1_micro"])
    refs = tmp_path / "r.txt"
    refs.write_text("\n".join(REFS) + "\n")
    assert main(["eval", "--predictions", str(refs), "--references", str(refs),
                 "--chexbert-checkpoint", str(tmp_path / "absent.pth"),
                 "--chexbert-bert", bert]) == 2
    err = capsys.readouterr().err
    assert "absent.pth" in err and err.count("\n") == 1


def test_eval_cli_chexbert_columns(tiny_chexbert, tmp_path, capsys):
    checkpoint, bert, _, _ = tiny_chexbert
    (tmp_path / "p.txt").write_text("\n".join(r.replace("\n", " ") for r in REPORTS) + "\n")
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n")
    assert main(["eval", "--predictions", str(tmp_path / "p.txt"), "--references",
                 str(tmp_path / "r.txt"), "--resamples", "20", "--quiet",
                 "--chexbert-checkpoint", checkpoint, "--chexbert-bert", bert]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "CXB-F1-mic" in header and "CXB-F1-mac" in header
