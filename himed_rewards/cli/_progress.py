"""Progress bars for long CLI jobs: tqdm on stderr, only for a terminal and without --quiet."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_enabled", "StageProgress", "bar"]


def progress_enabled(quiet: bool) -> bool:
    """Bars only when stderr is a terminal (not in logs or pipes) and --quiet is not given."""
    return not quiet and sys.stderr.isatty()


def bar(total: int, description: str, enabled: bool) -> Any:
    """A tqdm bar over ``total`` items (a no-op object when disabled)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="pair", disable=not enabled,
                file=sys.stderr, leave=False, dynamic_ncols=True)


class StageProgress:
    """Turns ``evaluate``'s ``progress(done, total, stage)`` calls into one tqdm bar."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="stage", file=sys.stderr, leave=False,
                             dynamic_ncols=True)
        self._bar.set_description(stage)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
