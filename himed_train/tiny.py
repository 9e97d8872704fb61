"""A tiny, randomly initialised Qwen2.5-VL built offline, for the CPU smoke run and tests.

* tokenizer: a word-level ``tokenizers`` model whose vocabulary is the words of the given
  reports and of the instruction, plus Qwen's special tokens and the answer tags (as normal
  added tokens, so decoding keeps them and the format reward can see them);
* processor: the image-only Qwen2.5-VL processor with a Qwen2-VL image processor whose
  pixel budget is 56 x 56 (a 56 x 56 image is 4 x 4 patches of 14 px -> 4 merged tokens);
* model: ``Qwen2_5_VLForConditionalGeneration`` from a ``Qwen2_5_VLConfig`` of about 100k
  parameters (one text layer, one vision block).

Every sampled token is a report word or a tag, so even a random policy's completions get
varied, non-zero token, concept and format rewards, and GRPO has an advantage to follow.
Needs torch and transformers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from himed_train.prompts import SYSTEM_PROMPT, USER_INSTRUCTION

__all__ = [
    "QWEN_SPECIAL_TOKENS",
    "ANSWER_TAGS",
    "CHAT_TEMPLATE",
    "IMAGE_SIZE",
    "build_tiny_tokenizer",
    "build_tiny_processor",
    "build_tiny_model",
]

#: Qwen2.5-VL's special tokens, in Qwen's order.
QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)  # fmt: skip
ANSWER_TAGS = (
    "<think>", "</think>", "<finding>", "</finding>", "<impression>", "</impression>",
)  # fmt: skip
IMAGE_SIZE = 56
_UNK = "[UNK]"

#: Qwen2-VL's chat layout, reduced to what report generation uses (text and images).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _words(texts: Iterable[str]) -> list[str]:
    """Distinct words and punctuation runs, in first-seen order (a stable vocabulary)."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in re.findall(r"\w+|[^\w\s]+", text):
            seen.setdefault(word, None)
    return list(seen)


def build_tiny_tokenizer(reports: Iterable[str]) -> Any:
    """A ``PreTrainedTokenizerFast`` over the words of ``reports`` and the instruction."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = _words([*reports, SYSTEM_PROMPT, USER_INSTRUCTION, "system user assistant"])
    if not words:
        raise ValueError("reports must contain at least one word to build a vocabulary")
    specials = [*QWEN_SPECIAL_TOKENS, _UNK]
    vocab = {token: i for i, token in enumerate([*specials, *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=_UNK))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=_UNK,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS),
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.add_tokens(list(ANSWER_TAGS))  # normal tokens: decoding keeps them
    return tokenizer


def build_tiny_processor(tokenizer: Any) -> Any:
    """The image-only Qwen2.5-VL processor, images resized to at most 56 x 56 pixels."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from himed_train.processing import image_only_processor_class

    pixels = IMAGE_SIZE * IMAGE_SIZE
    image_processor = Qwen2VLImageProcessorPil(min_pixels=pixels, max_pixels=pixels)
    return image_only_processor_class()(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=None,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_model(tokenizer: Any, *, seed: int = 0) -> Any:
    """A random ``Qwen2_5_VLForConditionalGeneration`` of about 100k parameters."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN_SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 512,
            # head_dim 16 -> 8 rotary frequencies split over (time, height, width)
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
            },
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 32,
            "fullatt_block_indexes": [0],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return model
