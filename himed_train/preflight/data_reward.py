"""The dataset rows are readable and the reward is warm (kernels compiled, one real call)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from himed_train.config import TrainConfig
from himed_train.preflight.results import CheckResult, fail, ok, warn

__all__ = ["PROBE_ROWS", "data_checks", "reward_checks"]

#: Studies read by the preflight: enough to catch a bad path or column, fast on any release.
PROBE_ROWS = 4

_PROBE_COMPLETION = (
    "<think>Clear lungs, normal heart.</think>\n"
    "<finding>The heart size is normal. The lungs are clear.</finding>\n"
    "<impression>No acute cardiopulmonary abnormality.</impression>"
)


def _open_image(path: str) -> str | None:
    file = Path(path)
    if not file.is_file():
        return f"image {path!r} does not exist"
    try:
        from PIL import Image
    except ImportError:
        return None  # existence is all we can check without Pillow
    try:
        with Image.open(file) as image:
            image.verify()
    except Exception as err:  # noqa: BLE001 - any decoder error means an unreadable image
        return f"image {path!r} is not readable: {type(err).__name__}: {err}"
    return None


def data_checks(config: TrainConfig) -> tuple[list[CheckResult], str | None]:
    """A ``data/rows`` row, and the first study's reference (for the reward call) or None.

    Examples:
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {
        ...     "annotation_path": "missing.json", "images_dir": "."}})
        >>> (row,), reference = data_checks(cfg)
        >>> row.status, reference
        ('FAIL', None)
    """
    from himed_train.data.from_config import load_records

    section = config.data
    probe = section.model_copy(update={"max_samples": min(section.max_samples or PROBE_ROWS,
                                                          PROBE_ROWS)})  # fmt: skip
    try:
        records = load_records(probe)
    except (OSError, ValueError, KeyError) as err:
        return [fail("data/rows", f"{section.dataset}: {type(err).__name__}: {err}")], None
    if not records:
        return [fail("data/rows", (
            f"{section.dataset} split {section.split!r}: no study read from {section.paths}"
        ))], None  # fmt: skip
    problems = [p for r in records for p in [_open_image(r.images[0])] if p]
    if problems:
        return [fail("data/rows", f"{section.dataset}: {problems[0]}")], records[0].reference
    return [ok("data/rows", (
        f"{section.dataset} split {section.split!r}: first {len(records)} studies read, "
        "their first images decode"
    ))], records[0].reference  # fmt: skip


def reward_checks(config: TrainConfig, reference: str | None) -> list[CheckResult]:
    """Compile the kernels, then call the configured reward once the way TRL does.

    Examples:
        >>> cfg = TrainConfig(data={"dataset": "iu_xray", "paths": {}},
        ...                   reward={"judge": "offline"})
        >>> reward_checks(cfg, None)[0].status
        'ok'
    """
    from himed_train.reward_setup import build_reward
    from himed_train.warmup import warm_up_reward

    warm_seconds = warm_up_reward()
    try:
        reward = build_reward(config.reward.model_copy(update={"use_async": False}))
    except (OSError, ValueError) as err:
        return [fail("reward/warm", f"the reward cannot be built: {err}")]
    reference = reference or "The heart size is normal. The lungs are clear."
    started = time.perf_counter()
    (value,) = reward(prompts=["probe"], completions=[_PROBE_COMPLETION], reference=[reference])
    seconds = time.perf_counter() - started
    detail = f"kernels compiled in {warm_seconds:.2f} s; one reward call {seconds:.3f} s"
    if value is None:
        return [warn("reward/warm", detail + ": None (the semantic judge failed: see verifier)")]
    if not math.isfinite(value):
        return [fail("reward/warm", detail + f": non-finite reward {value!r}")]
    return [ok("reward/warm", detail + f" -> {value:.3f}")]
