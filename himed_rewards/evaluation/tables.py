"""Table 3 of the paper as Markdown and CSV: one row per system, ``x.xxx [lo, hi]`` cells."""

from __future__ import annotations

import csv
import io

from himed_rewards.evaluation.conventions import get_convention
from himed_rewards.evaluation.evaluate import EvaluationResult, MetricResult

__all__ = ["format_cell", "to_markdown", "to_csv"]

SIGNIFICANCE_LEVEL = 0.05


def format_cell(result: MetricResult, digits: int = 3) -> str:
    """``0.394 [0.371, 0.416]*``: value, 95% interval, ``*`` when p < 0.05 vs the baseline.

    A value without an interval (a corpus score with no per-sample statistics) gets ``†``.

    Args:
        result: one cell of an evaluation.
        digits: decimals shown.

    Returns:
        The cell text (``n/a`` when the value is undefined).

    Examples:
        >>> format_cell(MetricResult(0.3944, (0.371, 0.4162), 0.002))
        '0.394 [0.371, 0.416]*'
        >>> format_cell(MetricResult(0.1994, None, None))
        '0.199†'
    """
    if result.value is None:
        return "n/a"
    text = f"{result.value:.{digits}f}"
    if result.ci is None:
        return text + "†"
    lo, hi = result.ci
    text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    if result.p_value is not None and result.p_value < SIGNIFICANCE_LEVEL:
        text += "*"
    return text


def to_markdown(result: EvaluationResult, digits: int = 3) -> str:
    """The Markdown table with a footnote naming the convention, test and resamples.

    Args:
        result: what :func:`~himed_rewards.evaluation.evaluate` returned.
        digits: decimals of every value and interval bound.

    Returns:
        The table, a blank line and the footnote, ending with a newline.

    Examples:
        >>> from himed_rewards.evaluation.evaluate import evaluate
        >>> refs = ["No effusion.", "Mild edema."] * 2
        >>> print(to_markdown(evaluate({"sys": refs}, refs, n_resamples=20)).splitlines()[0])
        | System | B1 | B2 | B3 | B4 | RG-L | METEOR | RG-1 | RG-2 | F1-mic | F1-mac | Sem-Acc | Sem-Rel | Sem-Comp | HiMed-low | HiMed |
    """
    metrics = result.metrics
    lines = ["| System | " + " | ".join(result.labels[m] for m in metrics) + " |",
             "|---|" + "---:|" * len(metrics)]
    for system in result.systems:
        cells = [format_cell(result.scores[system][m], digits) for m in metrics]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    sig = result.signature
    lines.append("")
    summary = get_convention(sig["convention"]).summary
    note = (f"{sig['n_samples']} pairs, convention `{sig['convention']}` ({summary}); "
            f"95% percentile "
            f"bootstrap intervals ({sig['bootstrap']['resamples']} paired resamples, seed "
            f"{sig['bootstrap']['seed']})")
    if len(result.systems) > 1:
        note += (f"; `*`: p < {SIGNIFICANCE_LEVEL} vs {result.systems[0]} "
                 f"({sig['significance']['test']})")
    if any(result.scores[s][m].ci is None for s in result.systems for m in metrics):
        note += "; `†`: corpus score without per-sample statistics (no interval, no test)"
    lines.append(note + ".")
    return "\n".join(lines) + "\n"


def to_csv(result: EvaluationResult) -> str:
    """One row per system: its convention, then ``metric``, ``_lo``, ``_hi``, ``_p`` columns.

    Args:
        result: what :func:`~himed_rewards.evaluation.evaluate` returned.

    Returns:
        CSV text with full-precision values (empty cells for missing intervals/p-values).

    Examples:
        >>> from himed_rewards.evaluation.evaluate import evaluate
        >>> refs = ["No effusion.", "Mild edema."] * 2
        >>> to_csv(evaluate({"sys": refs}, refs, n_resamples=20)).splitlines()[0][:45]
        'system,convention,bleu1,bleu1_lo,bleu1_hi,ble'
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["system", "convention"]
    for m in result.metrics:
        header += [m, f"{m}_lo", f"{m}_hi", f"{m}_p"]
    writer.writerow(header)
    for system in result.systems:
        row: list[object] = [system, result.signature["convention"]]
        for m in result.metrics:
            cell = result.scores[system][m]
            lo, hi = cell.ci if cell.ci else (None, None)
            row += ["" if v is None else repr(float(v)) for v in (cell.value, lo, hi,
                                                                   cell.p_value)]
        writer.writerow(row)
    return out.getvalue()
