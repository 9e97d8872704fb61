"""One preflight finding and the table ``himed-train check`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Status", "CheckResult", "ok", "warn", "fail", "skip", "render_table", "failures"]

Status = Literal["ok", "warn", "FAIL", "skip"]
_STATUSES = ("ok", "warn", "FAIL", "skip")


@dataclass(frozen=True)
class CheckResult:
    """What one check found: ``FAIL`` blocks the launch, ``warn`` is worth reading,
    ``skip`` did not apply to this plan.

    Examples:
        >>> CheckResult("packages/trl", "ok", "1.16.0").blocking
        False
    """

    name: str
    status: Status
    detail: str

    def __post_init__(self) -> None:
        if self.status not in _STATUSES:
            raise ValueError(f"status must be one of {_STATUSES}, got {self.status!r}")
        if not self.name or not self.detail:
            raise ValueError("a CheckResult needs a name and a detail")

    @property
    def blocking(self) -> bool:
        """True for a ``FAIL``."""
        return self.status == "FAIL"


def ok(name: str, detail: str) -> CheckResult:
    """A passed check."""
    return CheckResult(name, "ok", detail)


def warn(name: str, detail: str) -> CheckResult:
    """A check that passed with a caveat."""
    return CheckResult(name, "warn", detail)


def fail(name: str, detail: str) -> CheckResult:
    """A problem that blocks the launch."""
    return CheckResult(name, "FAIL", detail)


def skip(name: str, detail: str) -> CheckResult:
    """A check that does not apply to this plan."""
    return CheckResult(name, "skip", detail)


def failures(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The blocking results, in order."""
    return [r for r in results if r.blocking]


def render_table(results: Sequence[CheckResult]) -> str:
    """A plain-text table, one row per check, then a one-line verdict.

    Examples:
        >>> print(render_table([ok("packages/trl", "1.16.0"), fail("gpus", "none visible")]))
        check         status  detail
        ------------  ------  ------------
        packages/trl  ok      1.16.0
        gpus          FAIL    none visible
        1 problem(s): fix every FAIL row before launching
    """
    head = ("check", "status", "detail")
    rows = [head] + [(r.name, r.status, r.detail) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    blocking = len(failures(results))
    if blocking:
        lines.append(f"{blocking} problem(s): fix every FAIL row before launching")
    else:
        lines.append("preflight passed: the plan can launch")
    return "\n".join(lines)
