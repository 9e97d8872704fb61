"""himed_train: the HiMed reward wired into TRL's GRPO trainer."""

import sys

if sys.version_info < (3, 11):  # pragma: no cover - CI runs 3.11
    # The `train` extra skips TRL on 3.10 rather than failing to resolve; say why here.
    raise ImportError(
        "himed_train needs Python >= 3.11 because TRL 1.16 does; the reward library "
        "himed_rewards itself supports Python 3.10"
    )
