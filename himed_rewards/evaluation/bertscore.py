"""BERTScore (Zhang et al., 2020) through the ``bert-score`` package, as an optional backend.

The original implementation (PyPI ``bert-score``), not a reimplementation; it needs torch
and transformers. The model must already be on disk (a local directory, or the Hugging Face
cache): nothing is downloaded at run time (``HF_HUB_OFFLINE=1`` is set before it loads).
The default, ``distilroberta-base`` with baseline rescaling, is what CXR-Report-Metric uses
for RadCliQ. The score is the F1 of greedy token matching, one value per report.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

from himed_rewards.evaluation.local_model import require_local_model

__all__ = ["BERTSCORE_MODEL", "BertScoreUnavailable", "load_bertscore"]

#: CXR-Report-Metric's BERTScore model (``CXRMetric/run_eval.py``, rescaled with baseline).
BERTSCORE_MODEL = "distilroberta-base"
_INSTALL = "pip install bert-score==0.3.13 (with torch and transformers)"


class BertScoreUnavailable(RuntimeError):
    """The ``bert-score`` package or the model is not available locally."""


def _need(what: str, model: str) -> BertScoreUnavailable:
    return BertScoreUnavailable(
        f"BERTScore is unavailable: {what}. It needs the `bert-score` package ({_INSTALL}) "
        f"and the model {model!r} available locally (a directory, or the Hugging Face cache: "
        f"`huggingface-cli download {model}` beforehand). Nothing is downloaded at run time.")


def load_bertscore(model: str = BERTSCORE_MODEL, num_layers: int | None = None, *,
                   rescale_with_baseline: bool | None = None, use_gpu: bool = False,
                   batch_size: int = 64) -> Callable[[list[str], list[str]], list[float]]:
    """A ``(candidates, references) -> per-sample BERTScore F1`` callable, or a clear error.

    Args:
        model: a model name in the Hugging Face cache or a local directory.
        num_layers: which hidden layer to use; required for models ``bert-score`` does not
            know (its table covers the published ones, e.g. 5 for ``distilroberta-base``).
        rescale_with_baseline: rescale with ``bert-score``'s published baseline (default: on
            for ``distilroberta-base``, as CXR-Report-Metric; off for local directories,
            which have no baseline).
        use_gpu: run on CUDA.
        batch_size: sentences per forward pass.

    Returns:
        The scorer; it returns one float per pair.

    Raises:
        BertScoreUnavailable: the package or the model is missing, or ``num_layers`` is
            needed.

    Examples:
        >>> try:
        ...     load_bertscore("/nonexistent/model", num_layers=2)
        ... except BertScoreUnavailable as error:
        ...     "/nonexistent/model" in str(error) and "bert-score" in str(error)
        True
    """
    if importlib.util.find_spec("bert_score") is None:
        raise _need("the package is not installed", model)
    os.environ["HF_HUB_OFFLINE"] = "1"  # never download: fail instead
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    require_local_model(model, lambda why: _need(why, model))
    from bert_score import BERTScorer
    from bert_score.utils import model2layers

    if num_layers is None and model not in model2layers:
        raise _need(f"num_layers is required for {model!r}, which bert-score has no default "
                    f"layer for", model)
    if rescale_with_baseline is None:
        rescale_with_baseline = model == BERTSCORE_MODEL
    scorer = BERTScorer(model_type=model, num_layers=num_layers, lang="en",
                        rescale_with_baseline=rescale_with_baseline, batch_size=batch_size,
                        device="cuda" if use_gpu else "cpu")

    def score(candidates: list[str], references: list[str]) -> list[float]:
        _, _, f1 = scorer.score(list(candidates), list(references))
        return [float(v) for v in f1.tolist()]

    return score
