"""Every reward level and metric on one fixed set of texts, as exact strings: what the
interpreter tier (``himed_rewards/kernels/_interpret.py``) must reproduce from the kernels'
Python source, float for float. ``tests/kernels/test_interpret.py`` runs :func:`results` in a
process that interprets every kernel and compares with this process's compiled kernels.

    python tests/interpret_cases.py   # prints the results as JSON (the child's side)
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Characters for generated text: ASCII words and punctuation, digits and measurements, tags,
# accents (composed and combining), other scripts, an emoji, odd spaces, a lone surrogate.
_PIECES = ["lung", "clear", "No", "effusion", "left", "RIGHT", "mild", "cardiomegaly", "is",
           "are", "there", "pneumothorax", "opacity", "opacities", ".", ",", ";", ":", "-",
           "(", ")", "'", '"', "3.5", "cm", "12", "x", "<finding>", "</finding>", "<think>",
           "</think>", "<impression>", "</impression>", "é", "e\u0301", "Ärzte", "肺",
           "\U0001f600", "\u00a0", "\t", "\n", "\ud800", "zqxw", "effusions", "worsening"]


def generated(seed: int, n: int) -> list[str]:
    """``n`` random texts of the pieces above (the same in every process for a seed)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(_PIECES) for _ in range(rng.randint(0, 40))]
        out.append("".join(w + rng.choice([" ", " ", " ", "", "  "]) for w in words))
    return out


def _pairs() -> tuple[list[str], list[str]]:
    from conftest import load_iu_pairs

    _, hyps, refs = load_iu_pairs()
    completions = [f"<think>{r[:40]}</think><finding>{h}</finding><impression>{h[-30:]}"
                   "</impression>" for h, r in zip(hyps[:48], refs[:48], strict=True)]
    noise = generated(7, 48)
    # completions: well formed, raw generated text, and generated text inside the tags
    completions += noise[:24]
    completions += [f"<think>x</think><finding>{t}</finding><impression>{t[:9]}</impression>"
                    for t in noise[24:]]
    references = refs[:48] + generated(8, 48)
    return completions, references


def _exact(value: object) -> object:
    """Floats as hex (exact), containers recursively."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_exact(v) for v in value]
    if hasattr(value, "tolist"):
        return _exact(value.tolist())
    if hasattr(value, "_asdict"):
        return _exact(list(value._asdict().values()))
    if hasattr(value, "__dataclass_fields__"):
        return _exact([getattr(value, name) for name in value.__dataclass_fields__])
    return value


def results() -> dict[str, object]:
    """Reward breakdowns under several configurations, and the metrics, as exact values."""
    from himed_rewards import RewardConfig, score_batch
    from himed_rewards.metrics import (
        corpus_bleu,
        meteor_batch,
        rouge_l_batch,
        rouge_n_batch,
        sentence_bleu_batch,
    )
    from himed_rewards.rewards.format_batch import parse_completions

    completions, references = _pairs()
    configs = {
        "default": RewardConfig(),
        "hardened": RewardConfig.from_preset("hardened"),
        "13a, floor, arithmetic": RewardConfig(semantic=None, tokenize="13a", bleu_smooth="floor",
                                               bleu_mean="arithmetic"),
        "rouge+stem, order 2": RewardConfig(semantic=None, tokenize="rouge+stem",
                                            bleu_max_order=2, meteor_beta=1.5),
        "whitespace, keywords": RewardConfig(semantic=None, tokenize="whitespace",
                                             keywords=("effusion", "left lung", "肺")),
    }
    out: dict[str, object] = {}
    for name, config in configs.items():
        out[name] = _exact(score_batch(completions, references, step=300, config=config))
    from judge_paths import judge_path

    with judge_path(kernel=True):  # the offline judge's kernels too (sentences, records)
        out["default, judge kernel"] = _exact(score_batch(completions, references, step=300))
    reports = parse_completions(completions).reports()
    groups = [(r, references[(k + 1) % len(references)]) for k, r in enumerate(references)]
    out["sentence_bleu"] = _exact(sentence_bleu_batch(reports, references))
    out["sentence_bleu, two references"] = _exact(sentence_bleu_batch(reports, groups))
    out["corpus_bleu"] = _exact(corpus_bleu(reports, references).score)
    out["rouge_l"] = _exact(rouge_l_batch(reports, references))
    out["rouge_l, stemmed, two references"] = _exact(rouge_l_batch(reports, groups,
                                                                   use_stemmer=True))
    out["rouge_1"] = _exact(rouge_n_batch(reports, references, n=1))
    out["rouge_2"] = _exact(rouge_n_batch(reports, references, n=2))
    out["meteor"] = _exact(meteor_batch(reports, references))
    out["meteor, two references"] = _exact(meteor_batch(reports, groups))
    return out


if __name__ == "__main__":
    from himed_rewards.kernels import _config, _interpret

    found = results()
    found["tier"] = {"mode": _interpret._STATE["mode"], "spent": _interpret.spent(),
                     "materialised": _config._materialised[0]}
    print(json.dumps(found))
