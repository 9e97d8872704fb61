"""GREEN (Ostmeier et al., 2024): a fine-tuned causal LM counts a report's errors, as an option.

GREEN asks a language model (``StanfordAIMI/GREEN-RadLlama2-7b``) to compare a candidate
report with the reference and to write its assessment in a fixed format: the number of
*clinically significant* errors of six kinds, (a) false finding, (b) missed finding, (c)
wrong location, (d) wrong severity, (e) invented comparison, (f) omitted comparison; the
same for *clinically insignificant* errors; and the number of *matched findings*. The score is

    GREEN = matched / (matched + sum of the six clinically significant error counts)

and 0 when there are no matched findings. Prompt, chat text, answer cleaning and parsing
follow the ``green-score`` 0.0.12 package (PyPI; ``green_score/utils.py`` and
``green_score/green.py``): :func:`green_prompt`, :func:`green_chat_text`,
:func:`green_completion` and :func:`parse_green` are pure functions, tested against a
re-statement of that code.

One deliberate difference: an answer without the ``[Clinically Significant Errors]`` or
``[Matched Findings]`` section (a model that did not follow the format, or was cut off) is
*unparseable*: :attr:`GreenAssessment.score` is None (the evaluation leaves the sample out
of the mean and says how many), where ``green-score`` silently returns 0.
:attr:`GreenAssessment.reference_score` keeps ``green-score``'s number for comparison.

:func:`load_green` loads the model and its tokenizer from a local directory (or the Hugging
Face cache) with ``local_files_only=True``: nothing is downloaded; torch and transformers are
imported only then.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from himed_rewards.evaluation.local_model import require_local_model

__all__ = ["GREEN_MODEL", "GREEN_ERROR_KINDS", "GreenAssessment", "GreenScorer",
           "GreenUnavailable", "green_chat_text", "green_completion", "green_prompt",
           "load_green", "parse_green"]

#: The GREEN model the authors recommend (their README's first row).
GREEN_MODEL = "StanfordAIMI/GREEN-RadLlama2-7b"
#: The six error kinds, in the order of the model's (a)-(f) lines.
GREEN_ERROR_KINDS = (
    "False report of a finding in the candidate",
    "Missing a finding present in the reference",
    "Misidentification of a finding's anatomic location/position",
    "Misassessment of the severity of a finding",
    "Mentioning a comparison that isn't in the reference",
    "Omitting a comparison detailing a change from a prior study",
)
_SIGNIFICANT = "Clinically Significant Errors"
_INSIGNIFICANT = "Clinically Insignificant Errors"
_MATCHED = "Matched Findings"
_MAX_WORDS = 300  # green-score's make_prompt keeps the first 300 words of each report
_MAX_LENGTH = 2048  # tokens of prompt + answer, in green-score's tokenizer and generate()
_INSTALL = ("pip install torch transformers; then download the model once, e.g. "
            f"`huggingface-cli download {GREEN_MODEL} --local-dir DIR`, and pass DIR")

_FORMAT_LINE = "<The number of errors>. <Error 1>; <Error 2>; ...; <Error n>"
# The prompt's lines after its first; green-score indents each by four spaces.
_PROMPT_BODY = (
    "", "Process Overview: You will be presented with:", "",
    "1. The criteria for making a judgment.", "2. The reference radiology report.",
    "3. The candidate radiology report.", "4. The desired format for your assessment.", "",
    "1. Criteria for Judgment:", "", "For each candidate report, determine:", "",
    "The count of clinically significant errors.", "The count of clinically insignificant errors.",
    "", "Errors can fall into one of these categories:", "",
    *(f"{letter}) {kind}." for letter, kind in zip("abcdef", GREEN_ERROR_KINDS, strict=True)),
    "Note: Concentrate on the clinical findings rather than the report's writing style. "
    "Evaluate only the findings that appear in both reports.", "",
    "2. Reference Report:", "{reference}", "", "3. Candidate Report:", "{candidate}", "",
    "4. Reporting Your Assessment:", "",
    "Follow this specific format for your output, even if no errors are found:", "```",
    "[Explanation]:", "<Explanation>", "",
    f"[{_SIGNIFICANT}]:", f"(a) <Error Type>: {_FORMAT_LINE}", "....",
    f"(f) <Error Type>: {_FORMAT_LINE}", "",
    f"[{_INSIGNIFICANT}]:", f"(a) <Error Type>: {_FORMAT_LINE}", "....",
    f"(f) <Error Type>: {_FORMAT_LINE}", "",
    f"[{_MATCHED}]:", "<The number of matched findings>. <Finding 1>; <Finding 2>; ...; "
    "<Finding n>", "```",
)
_PROMPT = ("Objective: Evaluate the accuracy of a candidate radiology report in comparison to a "
           "reference radiology report composed by expert radiologists.\n"
           + "\n".join(f"    {line}" if line else "" for line in _PROMPT_BODY) + "\n")


def green_prompt(candidate: str, reference: str) -> str:
    """GREEN's instruction for one pair (each report cut to its first 300 words).

    Args:
        candidate: the generated report.
        reference: the reference report.

    Returns:
        The prompt text, as ``green-score``'s ``make_prompt(reference, candidate)``.

    Examples:
        >>> p = green_prompt("No effusion.", "Small left effusion.")
        >>> p.splitlines()[0][:40]
        'Objective: Evaluate the accuracy of a ca'
        >>> "2. Reference Report:\\n    Small left effusion.\\n" in p
        True
    """
    if not isinstance(candidate, str) or not isinstance(reference, str):
        raise TypeError(f"candidate and reference must be str, got {type(candidate).__name__} "
                        f"and {type(reference).__name__}")
    head, _, rest = _PROMPT.partition("{reference}")
    middle, _, tail = rest.partition("{candidate}")  # no str.format: reports may hold braces
    return (head + " ".join(reference.split()[:_MAX_WORDS]) + middle
            + " ".join(candidate.split()[:_MAX_WORDS]) + tail)


def green_chat_text(prompt: str, eos_token: str = "</s>") -> str:
    """The model input for ``prompt``: GREEN's chat template with the generation prompt.

    ``green-score`` renders a human turn, an empty assistant turn and the generation
    prompt through its own Jinja chat template; this is that text.

    Args:
        prompt: from :func:`green_prompt`.
        eos_token: the tokenizer's end-of-sequence token.

    Returns:
        The text to tokenize.

    Examples:
        >>> green_chat_text("PROMPT")
        '<|user|>\\nPROMPT</s>\\n<|assistant|>\\n</s>\\n<|assistant|>\\n'
    """
    return f"<|user|>\n{prompt}{eos_token}\n<|assistant|>\n{eos_token}\n<|assistant|>\n"


def green_completion(decoded: str) -> str:
    """The model's answer in a decoded ``prompt + answer`` text, cleaned as ``green-score``.

    The text after the last ``<|assistant|>``, then after its ``[Explanation]:`` marker,
    without ``</s>`` and ``<unk>``.

    Args:
        decoded: a generated sequence decoded with its prompt.

    Returns:
        The answer to parse.

    Examples:
        >>> green_completion("<|user|>\\n...[Explanation]:...<|assistant|>\\n"
        ...                  "[Explanation]:\\nAll good.</s>")
        '\\nAll good.'
    """
    if "[Explanation]:" in decoded:
        decoded = decoded.split("<|assistant|>")[-1]
        # green-score keeps the first part when the answer echoes the prompt's template
        echoed = "[Explanation]:\n    <Explanation>\n" in decoded
        decoded = decoded.split("[Explanation]:")[1 if echoed else -1]
    decoded = decoded.split("<|assistant|>")[-1]
    return decoded.replace("</s>", "").replace("<unk>", "")


@dataclass(frozen=True)
class GreenAssessment:
    """The counts read from one GREEN answer (None: that section is missing).

    ``significant`` and ``insignificant`` hold the (a)-(f) error counts; ``matched`` the
    number of matched findings; ``text`` the answer itself.
    """

    significant: tuple[int, ...] | None
    insignificant: tuple[int, ...] | None
    matched: int | None
    text: str

    @property
    def parseable(self) -> bool:
        """Whether the answer has the two sections the score needs."""
        return self.significant is not None and self.matched is not None

    @property
    def reference_score(self) -> float:
        """``green-score``'s number: missing sections count 0, so unparseable gives 0.0."""
        matched = self.matched or 0
        errors = sum(self.significant or ())
        return 0.0 if matched == 0 else matched / (matched + errors)

    @property
    def score(self) -> float | None:
        """GREEN, or None when the answer is unparseable (never a silent 0)."""
        return self.reference_score if self.parseable else None


def _section(text: str, header: str) -> str | None:
    # A section runs from its "[header]:" to the next blank line or the end.
    found = re.search(rf"\[{re.escape(header)}\]:\s*(.*?)(?:\n\s*\n|\Z)", text, re.DOTALL)
    return None if found is None else found.group(1)


def _error_counts(body: str) -> tuple[int, ...]:
    counts = [0] * 6
    if body.startswith("No"):  # e.g. "No clinically significant errors."
        return tuple(counts)
    lines = sorted(re.findall(r"\([a-f]\) .*", body))
    labels = [f"({letter}) " for letter in "abcdef"]
    if not lines:  # some answers number the kinds (1)-(6)
        lines = sorted(re.findall(r"\([1-6]\) .*", body))
        labels = [f"({n}) " for n in range(1, 7)]
    for line in lines:  # in sorted order; a later line of the same kind wins
        number = re.search(r"(?<=: )\b\d+\b(?=\.)", line)  # "<kind>: <count>. ..."
        kinds = [kind for kind, label in enumerate(labels) if line.startswith(label)]
        if kinds and number is not None:
            counts[kinds[0]] = int(number.group())
    return tuple(counts)


def parse_green(answer: str) -> GreenAssessment:
    """Read the error counts and matched findings from a GREEN answer.

    Args:
        answer: the model's answer (see :func:`green_completion`).

    Returns:
        The assessment; ``.score`` is GREEN, None when a needed section is missing.

    Examples:
        >>> a = parse_green("[Clinically Significant Errors]:\\n"
        ...     "(a) False report of a finding in the candidate: 1. Effusion.\\n"
        ...     "(b) Missing a finding present in the reference: 0.\\n\\n"
        ...     "[Matched Findings]:\\n3. Clear lungs; Normal heart; No pneumothorax.")
        >>> a.significant, a.matched, a.score
        ((1, 0, 0, 0, 0, 0), 3, 0.75)
        >>> parse_green("lungs lungs clear ]").score is None
        True
    """
    if not isinstance(answer, str):
        raise TypeError(f"answer must be str, got {type(answer).__name__}")
    significant = _section(answer, _SIGNIFICANT)
    insignificant = _section(answer, _INSIGNIFICANT)
    matched_body = _section(answer, _MATCHED)
    matched = None
    if matched_body is not None:
        number = re.match(r"\d+\b(?=\.)", matched_body)
        matched = 0 if matched_body.startswith("No") or number is None else int(number.group())
    return GreenAssessment(
        None if significant is None else _error_counts(significant),
        None if insignificant is None else _error_counts(insignificant), matched, answer)


class GreenUnavailable(RuntimeError):
    """torch/transformers or the GREEN model is not available locally."""


def _need(what: str, model: str) -> GreenUnavailable:
    return GreenUnavailable(
        f"GREEN is unavailable: {what}. It needs torch, transformers and a GREEN model on "
        f"disk (given: {model!r}; the authors' model is {GREEN_MODEL}): {_INSTALL}. "
        f"Nothing is downloaded.")


# green-score sets clean_up_tokenization_spaces=True; the transformers it pins (4.40) then
# removed these spaces when decoding, which transformers 5 no longer does for BPE tokenizers.
_SPACE_BEFORE = (" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're")


def _clean_up_spaces(text: str) -> str:
    for spaced in _SPACE_BEFORE:
        text = text.replace(spaced, spaced.lstrip() if spaced != " ' " else "'")
    return text


class GreenScorer:
    """A loaded GREEN model: ``scorer(candidates, references) -> per-sample GREEN``.

    Built by :func:`load_green`.
    """

    def __init__(self, model: object, tokenizer: object, device: str, batch_size: int,
                 max_new_tokens: int | None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def _generate(self, texts: list[str]) -> list[str]:
        import torch

        tok = self.tokenizer
        batch = tok(texts, return_tensors="pt", padding=True, truncation=True,  # type: ignore
                    max_length=_MAX_LENGTH).to(self.device)
        # green-score: greedy, up to 2048 tokens with the prompt, stop at end-of-sequence
        limit = ({"max_length": _MAX_LENGTH} if self.max_new_tokens is None
                 else {"max_new_tokens": self.max_new_tokens})
        with torch.inference_mode():
            out = self.model.generate(  # type: ignore[attr-defined]
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,  # type: ignore
                do_sample=False, **limit)
        # Only the new tokens: green-score decodes all and keeps what follows the last
        # "<|assistant|>", the same text whenever that marker survives decoding.
        answers = out[:, batch["input_ids"].shape[1]:]
        decoded = tok.batch_decode(answers, skip_special_tokens=True)  # type: ignore
        return [_clean_up_spaces(text) for text in decoded]

    def assess(self, candidates: Sequence[str], references: Sequence[str]
               ) -> list[GreenAssessment]:
        """The model's parsed answer for each pair.

        Args:
            candidates: generated reports.
            references: one reference report per candidate.

        Returns:
            One :class:`GreenAssessment` per pair (``.text`` holds the answer).
        """
        if isinstance(candidates, str) or isinstance(references, str):
            raise TypeError("candidates and references must be lists of reports, not str")
        if len(candidates) != len(references):
            raise ValueError(f"candidates has {len(candidates)} reports and references "
                             f"{len(references)}")
        eos = self.tokenizer.eos_token  # type: ignore[attr-defined]
        texts = [green_chat_text(green_prompt(c, r), eos)
                 for c, r in zip(candidates, references, strict=True)]
        answers: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            answers.extend(self._generate(texts[start:start + self.batch_size]))
        return [parse_green(green_completion(a)) for a in answers]

    def __call__(self, candidates: Sequence[str], references: Sequence[str]
                 ) -> list[float | None]:
        """GREEN of each pair; None where the model's answer is unparseable."""
        return [a.score for a in self.assess(candidates, references)]


def load_green(model: str = GREEN_MODEL, *, use_gpu: bool = False, batch_size: int = 8,
               max_new_tokens: int | None = None) -> GreenScorer:
    """Load a GREEN model from disk, or raise a clear error naming it and the install.

    Args:
        model: a directory holding the model and tokenizer, or a name in the local Hugging
            Face cache (default :data:`GREEN_MODEL`).
        use_gpu: run on CUDA in float16 (as ``green-score``); else CPU, float32.
        batch_size: pairs per ``generate`` call (``green-score`` uses 8).
        max_new_tokens: cap on the answer's tokens; None: ``green-score``'s limit of 2048
            tokens for prompt and answer together.

    Returns:
        The scorer.

    Raises:
        GreenUnavailable: torch/transformers missing, or the model not on disk.

    Examples:
        >>> try:
        ...     load_green("/nonexistent/green")
        ... except GreenUnavailable as error:
        ...     GREEN_MODEL in str(error) and "Nothing is downloaded" in str(error)
        True
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if max_new_tokens is not None and (not isinstance(max_new_tokens, int) or max_new_tokens < 1):
        raise ValueError(f"max_new_tokens must be a positive int or None, got {max_new_tokens!r}")
    try:
        import torch
        import transformers
    except ImportError as error:
        raise _need(f"{error.name} is not installed", model) from error
    require_local_model(model, lambda why: _need(why, model))
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            model, local_files_only=True, add_eos_token=True, padding_side="left")
        network = transformers.AutoModelForCausalLM.from_pretrained(
            model, local_files_only=True, dtype=torch.float16 if use_gpu else torch.float32)
    except (OSError, ValueError) as error:  # files missing or not a causal LM
        raise _need(f"{model!r} does not hold a causal LM and its tokenizer: "
                    f"{str(error).splitlines()[0]}", model) from error
    tokenizer.pad_token = tokenizer.eos_token  # as green-score: pad with end-of-sequence
    device = "cuda" if use_gpu else "cpu"
    network.to(device).eval()
    return GreenScorer(network, tokenizer, device, batch_size, max_new_tokens)
