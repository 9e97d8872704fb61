"""Whether a model named by the user is on this machine: the one check every model-based
evaluation backend (BERTScore, CheXbert, GREEN, RaTEScore) makes before loading it."""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["require_local_model"]


def require_local_model(model: str, unavailable: Callable[[str], Exception]) -> None:
    """Return when ``model`` is a directory or in the local Hugging Face cache; otherwise
    raise ``unavailable(reason)`` (the backend's own error type). Nothing is downloaded.

    Examples:
        >>> require_local_model(".", RuntimeError)  # a directory
        >>> try:
        ...     require_local_model("/nonexistent/model", RuntimeError)
        ... except RuntimeError as error:
        ...     "/nonexistent/model" in str(error)
        True
    """
    if os.path.isdir(model):
        return
    try:
        from huggingface_hub import snapshot_download
    except ImportError as error:
        raise unavailable(f"huggingface_hub is not installed to find {model!r}") from error
    try:
        snapshot_download(model, local_files_only=True)
    except Exception as error:  # LocalEntryNotFoundError, a malformed repo id: not here
        raise unavailable(f"{model!r} is neither a directory nor in the local Hugging Face "
                          f"cache") from error
