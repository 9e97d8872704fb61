"""The instruction given to the policy and the tagged answer layout the reward expects.

The HiMed format reward checks for ``<think>``, ``<finding>`` and ``<impression>`` blocks, so
every prompt asks for exactly that layout, and the cold-start SFT targets are written in it.
"""

from __future__ import annotations

__all__ = [
    "SYSTEM_PROMPT",
    "USER_INSTRUCTION",
    "build_prompt",
    "tagged_answer",
    "plain_reference",
]

SYSTEM_PROMPT = (
    "You are an expert radiologist. You read chest X-ray images and write the radiology report."
)

USER_INSTRUCTION = (
    "Write the radiology report for this chest X-ray study. First reason step by step inside "
    "<think> </think>. Then give the findings inside <finding> </finding> and the impression "
    "inside <impression> </impression>."
)


def build_prompt(
    *, system: str | None = SYSTEM_PROMPT, instruction: str = USER_INSTRUCTION
) -> list[dict[str, str]]:
    """A TRL conversational prompt: optional system turn, then the user's instruction.

    The content is plain text; TRL inserts one image placeholder per entry of the sample's
    ``images`` column before the first user turn (``prepare_multimodal_messages``).

    Examples:
        >>> [m["role"] for m in build_prompt()]
        ['system', 'user']
        >>> "<impression>" in build_prompt(system=None)[0]["content"]
        True
    """
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f"instruction must be a non-empty string, got {instruction!r}")
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": instruction})
    return messages


def plain_reference(findings: str, impression: str) -> str:
    """The reference text the reward compares against: findings, then impression.

    Examples:
        >>> plain_reference("Lungs are clear.", "Normal chest.")
        'Lungs are clear. Normal chest.'
        >>> plain_reference("", "Normal chest.")
        'Normal chest.'
    """
    return " ".join(part.strip() for part in (findings, impression) if part and part.strip())


def tagged_answer(findings: str, impression: str, *, think: str) -> str:
    """A cold-start SFT target in the tagged layout the format reward checks.

    Examples:
        >>> print(tagged_answer("Lungs are clear.", "Normal.", think="Check lungs."))
        <think>Check lungs.</think>
        <finding>Lungs are clear.</finding>
        <impression>Normal.</impression>
    """
    return (
        f"<think>{think.strip()}</think>\n"
        f"<finding>{findings.strip()}</finding>\n"
        f"<impression>{impression.strip()}</impression>"
    )
