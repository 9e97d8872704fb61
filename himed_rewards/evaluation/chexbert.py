"""CheXbert labels (Smit et al., 2020) and the CheXbert F1 of report generation papers.

An optional backend: the labeler's architecture (``bert-base-uncased`` and 14 linear heads
on the [CLS] state: 13 heads blank/positive/negative/uncertain, one yes/no head for "No
Finding") is built here, as CheXbert's ``models/bert_labeler.py`` defines it, and the
published checkpoint (``chexbert.pth``, from the CheXbert authors) is loaded into it. Reports
are prepared as CheXbert's ``bert_tokenizer.py`` does (whitespace squeezed, WordPiece ids,
cut at 512). Everything must already be on disk: the checkpoint file and the
``bert-base-uncased`` tokenizer and config (a directory or the Hugging Face cache); nothing
is downloaded. torch and transformers are imported only when the labeler is loaded.

CheXbert F1 counts an observation as present when labelled *positive* (uncertain counts as
negative, as the CheXpert-14 F1 of :mod:`himed_rewards.evaluation.chexpert`); micro F1 pools
the 14 observations, macro F1 averages those that occur.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence

import numpy as np

from himed_rewards.evaluation.local_model import require_local_model

__all__ = ["CHEXBERT_CONDITIONS", "CHEXBERT_BERT", "ChexbertUnavailable", "load_chexbert",
           "chexbert_counts"]

#: The 14 observations in the order of the checkpoint's heads.
CHEXBERT_CONDITIONS = (
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices", "No Finding",
)
#: The BERT whose tokenizer and configuration CheXbert was trained with.
CHEXBERT_BERT = "bert-base-uncased"
POSITIVE = 1  # class 1 is "positive" in every head (and "yes" in the No Finding head)
_MAX_TOKENS = 512


class ChexbertUnavailable(RuntimeError):
    """torch/transformers, the checkpoint or the BERT files are not available locally."""


def _need(what: str, checkpoint: str, bert: str) -> ChexbertUnavailable:
    return ChexbertUnavailable(
        f"CheXbert is unavailable: {what}. It needs torch and transformers "
        f"(`pip install torch transformers`), the CheXbert checkpoint file (chexbert.pth, "
        f"from the CheXbert authors; given: {checkpoint!r}) and the {bert!r} tokenizer and "
        f"config on disk (a directory, or the Hugging Face cache). Nothing is downloaded.")


def _clean(report: str) -> str:
    """CheXbert's report preparation: strip, newlines to spaces, runs of spaces squeezed."""
    return re.sub(r"\s+", " ", str(report).strip().replace("\n", " ")).strip()


def load_chexbert(checkpoint: str, bert_model: str = CHEXBERT_BERT, *, use_gpu: bool = False,
                  batch_size: int = 32) -> Callable[[Sequence[str]], np.ndarray]:
    """A labeler ``reports -> (n, 14)`` CheXbert classes, or a clear error.

    Args:
        checkpoint: path of the CheXbert checkpoint (a ``torch.save`` dict whose
            ``model_state_dict`` holds the labeler's weights, ``module.``-prefixed or not).
        bert_model: name or directory of the BERT tokenizer and configuration.
        use_gpu: run on CUDA.
        batch_size: reports per forward pass.

    Returns:
        The labeler: class ids per report and observation (0 blank, 1 positive, 2 negative,
        3 uncertain; for No Finding 0 blank, 1 yes), in :data:`CHEXBERT_CONDITIONS` order.

    Raises:
        ChexbertUnavailable: a missing package, checkpoint or BERT file.

    Examples:
        >>> try:
        ...     load_chexbert("/nonexistent/chexbert.pth")
        ... except ChexbertUnavailable as error:
        ...     "chexbert.pth" in str(error) and "Nothing is downloaded" in str(error)
        True
    """
    try:
        import torch
        import transformers
    except ImportError as error:
        raise _need(f"{error.name} is not installed", checkpoint, bert_model) from error
    if not os.path.isfile(checkpoint):
        raise _need(f"no checkpoint file at {checkpoint!r}", checkpoint, bert_model)
    os.environ["HF_HUB_OFFLINE"] = "1"  # never download: fail instead
    require_local_model(bert_model, lambda why: _need(why, checkpoint, bert_model))

    class Labeler(torch.nn.Module):
        def __init__(self, config: object) -> None:
            super().__init__()
            self.bert = transformers.BertModel(config, add_pooling_layer=True)
            hidden = config.hidden_size  # type: ignore[attr-defined]
            heads = [torch.nn.Linear(hidden, 4) for _ in range(13)] + [torch.nn.Linear(hidden, 2)]
            self.linear_heads = torch.nn.ModuleList(heads)

        def forward(self, ids: object, mask: object) -> list:
            cls = self.bert(ids, attention_mask=mask)[0][:, 0, :]
            return [head(cls) for head in self.linear_heads]

    tokenizer = transformers.BertTokenizer.from_pretrained(bert_model)
    model = Labeler(transformers.BertConfig.from_pretrained(bert_model))
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = state.get("model_state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=False)  # the pooler may be absent
    except RuntimeError as error:  # shapes do not match: not a CheXbert checkpoint
        raise _need(f"{checkpoint!r} does not fit the CheXbert architecture of "
                    f"{bert_model!r}: {str(error).splitlines()[0]}", checkpoint,
                    bert_model) from error
    missing = [k for k in model.state_dict() if k not in state and "pooler" not in k
               and "position_ids" not in k]
    if missing:
        raise _need(f"{checkpoint!r} lacks CheXbert weights such as {missing[0]!r}",
                    checkpoint, bert_model)
    device = torch.device("cuda" if use_gpu else "cpu")
    model.to(device).eval()

    def encode(report: str) -> list[int]:
        tokens = tokenizer.tokenize(_clean(report))
        if not tokens:
            return [tokenizer.cls_token_id, tokenizer.sep_token_id]
        # What CheXbert's encode_plus(word_pieces) returns (removed in transformers 5):
        # [CLS] + the pieces' ids + [SEP].
        ids = [tokenizer.cls_token_id, *tokenizer.convert_tokens_to_ids(tokens),
               tokenizer.sep_token_id]
        return ids if len(ids) <= _MAX_TOKENS else ids[:_MAX_TOKENS - 1] + [
            tokenizer.sep_token_id]

    def label(reports: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(reports), len(CHEXBERT_CONDITIONS)), dtype=np.int64)
        with torch.no_grad():
            for start in range(0, len(reports), batch_size):
                encoded = [encode(r) for r in reports[start:start + batch_size]]
                width = max(len(e) for e in encoded)
                ids = torch.zeros((len(encoded), width), dtype=torch.long)
                mask = torch.zeros((len(encoded), width), dtype=torch.long)
                for row, e in enumerate(encoded):
                    ids[row, :len(e)] = torch.tensor(e)
                    mask[row, :len(e)] = 1
                logits = model(ids.to(device), mask.to(device))
                for head, scores in enumerate(logits):
                    out[start:start + len(encoded), head] = scores.argmax(dim=1).cpu().numpy()
        return out

    return label


def chexbert_counts(hypothesis_labels: np.ndarray, reference_labels: np.ndarray) -> np.ndarray:
    """Per-sample TP/FP/FN of each observation, ``(n, 14, 3)``, from CheXbert classes.

    Args:
        hypothesis_labels: ``(n, 14)`` classes of the generated reports.
        reference_labels: ``(n, 14)`` classes of the references.

    Returns:
        Counts for :func:`~himed_rewards.evaluation.chexpert.micro_f1` / ``macro_f1``.

    Examples:
        >>> h = np.array([[1, 2] + [0] * 12]); r = np.array([[1, 1] + [0] * 12])
        >>> chexbert_counts(h, r)[0, :2].tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    hyp = np.asarray(hypothesis_labels) == POSITIVE
    ref = np.asarray(reference_labels) == POSITIVE
    if hyp.shape != ref.shape or hyp.ndim != 2 or hyp.shape[1] != len(CHEXBERT_CONDITIONS):
        raise ValueError(f"labels must both have shape (n, 14), got {hyp.shape} and {ref.shape}")
    return np.stack([hyp & ref, hyp & ~ref, ~hyp & ref], axis=-1).astype(np.int64)
