"""Pick the attention kernel the policy is loaded with: flash-attn when installed, else SDPA.

flash-attn is an optional extra (``pip install 'himed-rewards[flash]'``) because it builds
against one torch/CUDA pair; a config that asks for ``flash_attention_2`` on a machine
without it falls back to PyTorch's ``sdpa`` with a warning instead of failing at load time.
No torch here: availability is a package lookup.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Callable

__all__ = ["FLASH_IMPLEMENTATIONS", "flash_attn_available", "resolve_attn_implementation"]

log = logging.getLogger("himed_train")

#: attn_implementation values that need the flash-attn package.
FLASH_IMPLEMENTATIONS = frozenset({"flash_attention_2"})


def flash_attn_available() -> bool:
    """Whether the ``flash_attn`` package can be imported (not imported here: it loads CUDA).

    Examples:
        >>> isinstance(flash_attn_available(), bool)
        True
    """
    return importlib.util.find_spec("flash_attn") is not None


def resolve_attn_implementation(
    requested: str | None, *, available: Callable[[], bool] = flash_attn_available
) -> str | None:
    """``requested``, or ``"sdpa"`` with a warning when it needs flash-attn and that is absent.

    Examples:
        >>> resolve_attn_implementation("sdpa"), resolve_attn_implementation(None)
        ('sdpa', None)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     resolve_attn_implementation("flash_attention_2", available=lambda: False)
        'sdpa'
        >>> "falling back to sdpa" in str(caught[0].message)
        True
    """
    if requested is not None and not isinstance(requested, str):
        raise TypeError(f"requested must be a str or None, got {type(requested).__name__}")
    if requested not in FLASH_IMPLEMENTATIONS or available():
        return requested
    message = (
        f"model.attn_implementation is {requested!r} but the flash_attn package is not "
        "installed: falling back to sdpa (install it with pip install 'himed-rewards[flash]')"
    )
    log.warning(message)
    warnings.warn(message, stacklevel=2)
    return "sdpa"
