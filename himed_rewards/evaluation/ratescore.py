"""RaTEScore (Zhao et al., 2024) through the ``ratescore`` package, as an optional backend.

This is the original implementation (PyPI ``ratescore``, imported as ``RaTEScore``), not a
reimplementation. It needs torch, transformers, medspacy and two Hugging Face models, which
must already be on disk: nothing is downloaded at run time (``HF_HUB_OFFLINE=1`` is set
before the models load).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

from himed_rewards.evaluation.local_model import require_local_model

__all__ = ["RATESCORE_MODELS", "RatescoreUnavailable", "load_ratescore"]

#: The two models ``RaTEScore()`` loads by default (``bert_model``, ``eval_model``).
RATESCORE_MODELS = ("Angelakeke/RaTE-NER-Deberta", "FremyCompany/BioLORD-2023-C")


class RatescoreUnavailable(RuntimeError):
    """The ``ratescore`` package or one of its two models is not available locally."""


def _need(what: str) -> RatescoreUnavailable:
    return RatescoreUnavailable(
        f"RaTEScore is unavailable: {what}. It needs the `ratescore` package "
        f"(`pip install ratescore`, imported as `RaTEScore`, with torch, transformers and "
        f"medspacy) and its two models available locally: {RATESCORE_MODELS[0]} (entity "
        f"recognition) and {RATESCORE_MODELS[1]} (synonym embeddings), either in the Hugging "
        f"Face cache or as local directories (--ratescore-ner-model / --ratescore-eval-model). "
        f"Nothing is downloaded at run time.")


def load_ratescore(ner_model: str = RATESCORE_MODELS[0], eval_model: str = RATESCORE_MODELS[1],
                   use_gpu: bool = False) -> Callable[[list[str], list[str]], list[float]]:
    """A ``(candidates, references) -> per-sample RaTEScore`` callable, or a clear error.

    Examples:
        >>> try:
        ...     load_ratescore(ner_model="/nonexistent/ner")
        ... except RatescoreUnavailable as error:
        ...     "Angelakeke/RaTE-NER-Deberta" in str(error)
        True
    """
    if importlib.util.find_spec("RaTEScore") is None:
        raise _need("the package is not installed")
    os.environ["HF_HUB_OFFLINE"] = "1"  # never download: fail instead
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    for model in (ner_model, eval_model):
        require_local_model(model, _need)
    from RaTEScore import RaTEScore

    scorer = RaTEScore(bert_model=ner_model, eval_model=eval_model, use_gpu=use_gpu)

    def score(candidates: list[str], references: list[str]) -> list[float]:
        return [float(s) for s in scorer.compute_score(list(candidates), list(references))]

    return score
