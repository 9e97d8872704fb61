"""Semantic scorers for tests/rewards/test_parallel.py, importable by worker processes (the
test puts this folder on the workers' PYTHONPATH): a deterministic grader, and a user's
scorer that kills its process or raises on one marked reference."""

from __future__ import annotations

import os

from himed_rewards.judge.verdict import SemanticVerdict

POISON = "POISON"


class OverlapScorer:
    """Grades by shared words; remembers the process ids it ran in (in that process)."""

    name = "overlap"

    def __init__(self) -> None:
        self.pids: set[int] = set()

    def signature(self) -> str:
        return "overlap-v1"

    def score_batch(self, candidates, references):
        self.pids.add(os.getpid())
        out = []
        for candidate, reference in zip(candidates, references, strict=True):
            c, r = set(candidate.lower().split()), set(reference.lower().split())
            shared = len(c & r)
            out.append(SemanticVerdict(shared / max(len(c), 1), shared / max(len(r), 1),
                                       1.0 if r <= c else 0.5, source=self.name))
        return out


class CrashingScorer(OverlapScorer):
    """Ends its process abruptly (as a segfault or the OOM killer would) on a POISON reference."""

    name = "crashing"

    def score_batch(self, candidates, references):
        if any(POISON in r for r in references):
            os._exit(3)
        return super().score_batch(candidates, references)


class RaisingScorer(OverlapScorer):
    """Raises ValueError on a POISON reference."""

    name = "raising"

    def score_batch(self, candidates, references):
        if any(POISON in r for r in references):
            raise ValueError("refused a POISON reference")
        return super().score_batch(candidates, references)
