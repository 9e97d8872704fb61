"""The reproducibility signature: every option that changes a number, and the versions."""

from __future__ import annotations

import importlib.metadata
import platform

__all__ = ["package_versions", "evaluation_signature"]

_PACKAGES = ("himed-rewards", "numpy", "numba", "nltk", "pycocoevalcap", "sacrebleu",
             "rouge-score", "ratescore", "bert-score")
_COCO = {"bleu": "whitespace (pycocoevalcap Bleu)",
         "rougeL": "str.split(' ') (pycocoevalcap Rouge, beta 1.2)",
         "rouge1_2": "rouge-score (no stemmer)", "meteor": "METEOR 1.5 jar (pycocoevalcap Meteor)"}
_DEFAULT = {"bleu": "13a (sacrebleu)", "rouge": "rouge-score (no stemmer)",
            "meteor": "nltk (default tokenizer, WordNet 3.0 table)"}
_TOKENIZERS = {
    "default": _DEFAULT,
    "coco": _COCO,
    "r2gen": {"cleaning": "R2Gen clean_report_iu_xray (n-gram metrics only)", **_COCO},
    "r2gen-mimic": {"cleaning": "R2Gen clean_report_mimic_cxr (n-gram metrics only)", **_COCO},
    "cxr-metric": {**_DEFAULT, "bleu": "CXR-Report-Metric: lower, '.' -> ' .', split(' ')"},
}
_BLEU = {
    "default": {"smooth": "exp", "effective_order": False},
    "coco": {"guards": "1e-15 / 1e-9 (pycocoevalcap)"},
    "cxr-metric": {"order": 2, "smooth": "floor 0.1 (NLTK method1)",
                   "corpus": "mean of per-report scores"},
}


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages whose code produces the numbers (None: absent).

    Examples:
        >>> package_versions()["numpy"] is not None
        True
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def evaluation_signature(*, convention: str, lowercase: bool, n_resamples: int, seed: int,
                         test: str, reward_config_signature: str, step: int,
                         n_samples: int, ratescore: dict | None = None,
                         bertscore: dict | None = None, chexbert: dict | None = None,
                         radgraph: dict | None = None,
                         green: dict | None = None) -> dict:
    """A JSON-ready dict of the options and versions behind an evaluation.

    Returns:
        Convention, tokenizers, BLEU settings, clinical-F1 choices, resampling and test
        settings, reward signature and step, and package versions.

    Examples:
        >>> sig = evaluation_signature(convention="coco", lowercase=False, n_resamples=1000,
        ...                            seed=12345, test="paired-bs", n_samples=590,
        ...                            reward_config_signature="{}|semantic:off", step=0)
        >>> sig["tokenizers"]["bleu"], sig["bootstrap"]["seed"]
        ('whitespace (pycocoevalcap Bleu)', 12345)
    """
    return {
        "convention": convention,
        "lowercase": lowercase,
        "tokenizers": _TOKENIZERS[convention],
        "bleu": _BLEU.get(convention, _BLEU["coco"]),
        "clinical_f1": {"observations": "CheXpert-14", "positive": "label 'positive'",
                        "uncertain": "counted as negative",
                        "macro": "mean over observations that occur"},
        "bootstrap": {"resamples": n_resamples, "seed": seed, "interval": "percentile 95%",
                      "paired": True},
        "significance": {"test": test, "trials": n_resamples, "seed": seed, "alpha": 0.05},
        "reward": {"config": reward_config_signature, "step": step},
        "ratescore": ratescore,
        "bertscore": bertscore,
        "chexbert": chexbert,
        "radgraph": radgraph,
        "green": green,
        "n_samples": n_samples,
        "versions": package_versions(),
    }
