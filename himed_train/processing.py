"""Load the Qwen2.5-VL processor, with or without torchvision.

transformers 5 builds Qwen2.5-VL's video processor on torchvision. Report generation needs
images only, so where torchvision is missing (the CPU CI image: PyPI's torchvision does not
import beside the CPU torch build) the processor is assembled from the tokenizer and the
pure-PIL ``Qwen2VLImageProcessorPil``, with no video processor. Needs transformers.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Any

__all__ = ["image_only_processor_class", "load_processor", "save_processor", "has_torchvision"]


def has_torchvision() -> bool:
    """True when ``import torchvision`` can be attempted (its spec is found)."""
    return importlib.util.find_spec("torchvision") is not None


@lru_cache(maxsize=1)
def image_only_processor_class() -> type:
    """A ``Qwen2_5_VLProcessor`` subclass that accepts ``video_processor=None``.

    The base class insists every sub-processor be an instance of its registered type; the
    video one cannot even be resolved without torchvision, so that single check is skipped
    for a missing video processor. Passing videos to it is unsupported.
    """
    from transformers import Qwen2_5_VLProcessor

    class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        """Qwen2.5-VL processor for images and text only (no video processor)."""

        def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> Any:
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    return ImageOnlyQwen2_5_VLProcessor


def load_processor(
    name_or_path: str,
    *,
    min_pixels: int,
    max_pixels: int,
    trust_remote_code: bool = False,
) -> Any:
    """The policy's processor with left padding (GRPO generation needs it).

    Uses ``AutoProcessor`` where torchvision is importable, else the image-only processor
    built from the checkpoint's tokenizer, chat template and image-processor settings.
    """
    from transformers import AutoProcessor, AutoTokenizer

    if has_torchvision():
        processor = AutoProcessor.from_pretrained(
            name_or_path,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            trust_remote_code=trust_remote_code,
        )
    else:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil,
        )

        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(
            name_or_path, min_pixels=min_pixels, max_pixels=max_pixels
        )
        processor = image_only_processor_class()(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=tokenizer.chat_template or _processor_chat_template(name_or_path),
        )
    processor.tokenizer.padding_side = "left"
    return processor


def save_processor(processor: Any, directory: str) -> None:
    """Save a processor so :func:`load_processor` reads it back, image-only ones included.

    ``ProcessorMixin.save_pretrained`` cannot save a missing video processor, so the
    image-only processor saves its tokenizer, image processor and chat template one by one.
    """
    if getattr(processor, "video_processor", None) is not None:
        processor.save_pretrained(directory)
        return
    import os

    processor.tokenizer.save_pretrained(directory)
    processor.image_processor.save_pretrained(directory)
    if processor.chat_template:
        with open(os.path.join(directory, "chat_template.jinja"), "w", encoding="utf-8") as fh:
            fh.write(processor.chat_template)


def _processor_chat_template(name_or_path: str) -> str | None:
    """The chat template a checkpoint keeps beside its processor (``chat_template.jinja`` or
    ``chat_template.json``), as Qwen2.5-VL does; None when it has neither."""
    import json

    from transformers.utils import cached_file

    for filename in ("chat_template.jinja", "chat_template.json"):
        path = cached_file(name_or_path, filename, _raise_exceptions_for_missing_entries=False)
        if path is None:
            continue
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        return json.loads(text)["chat_template"] if filename.endswith(".json") else text
    return None
