"""The offline clinical judge's scores of a parsed batch, read from the parse's bytes.

``OfflineClinicalJudge.score_columns`` takes report strings: ``score_batch`` built one per
completion (``ParsedCompletions.reports``), the judge numbered them in a dictionary, then
joined, lowercased and encoded them again to cut their sentences in a kernel: about 0.6 of
the 5.3-5.8 us a fresh GRPO pair cost the judge in one process (in the judge's helper
process the gain is within the noise of its caches, cold after idling between requests:
docs/speed_history.md, "The judge reads the parse's bytes"). The parse already holds every
well-formed completion's report bodies, lowercased, in one byte buffer: here one kernel call
lays them out as the judge's reports (``kernels.completion.report_texts``), the references
follow, and the judge reads them in place (``clinical.encoded.judge_lowered``), through
``rewards.judge_request``, as the judge's helper process does with the same bytes. The same
floats as ``score_columns``: the judge is a function of the two texts of a pair
(``tests/rewards/test_offline_scores.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from himed_rewards.rewards.format_batch import ParsedCompletions
from himed_rewards.rewards.judge_request import judge_request, make_request

__all__ = ["offline_scores"]


def offline_scores(scorer: object, parsed: ParsedCompletions,
                   references: Sequence[str]) -> np.ndarray:
    """``scorer.score_columns(parsed.reports(), references)``, a float64 array of shape
    ``(n, 3)``; for the offline clinical judge itself (exactly that class: a subclass may
    judge differently), read from the parse's bytes, without building the reports.
    ``references`` must be checked already (a list of ``str`` as long as the batch:
    ``score_batch`` checks it).

    Examples:
        >>> from himed_rewards.clinical.judge import OfflineClinicalJudge
        >>> from himed_rewards.rewards.format_batch import parse_completions
        >>> c = ["<think>x</think><finding>Large left pleural effusion.</finding><impression>Effusion.</impression>"] * 3
        >>> parsed, judge = parse_completions(c), OfflineClinicalJudge()
        >>> refs = ["Large right pleural effusion."] * 3
        >>> scores = offline_scores(judge, parsed, refs)
        >>> scores.tolist() == judge.score_columns(parsed.reports(), refs).tolist()
        True
    """
    # (the judge's module is loaded before any judge exists: nothing to import for others)
    judge_module = sys.modules.get("himed_rewards.clinical.judge")
    if judge_module is None or type(scorer) is not judge_module.OfflineClinicalJudge:
        return scorer.score_columns(parsed.reports(), references)  # type: ignore[attr-defined]
    from himed_rewards.clinical import encoded

    n = len(parsed.completions)
    if n < judge_module._KERNEL_FROM or not encoded.kernel_ready():
        return scorer.score_columns(parsed.reports(), references)  # (what this path repeats)
    # texts: the n reports, then the distinct references (equal references, a GRPO group's,
    # share one, as score_columns numbers them; a report is a function of its own text, so
    # numbering equal reports apart changes no score)
    distinct = list(dict.fromkeys(references))
    request = make_request(parsed, references, distinct)
    reports = None

    def text(k: int) -> str:  # (a text the kernels leave to the interpreter, as given)
        nonlocal reports
        if k >= n:
            return distinct[k - n]
        if reports is None:
            reports = parsed.reports()
        return reports[k]

    return judge_request(scorer, request, parsed.lowered, text)
