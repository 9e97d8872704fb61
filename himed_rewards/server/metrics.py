"""Server metrics in the Prometheus text exposition format (0.0.4), written by hand.

No client library: a few counters and one latency histogram are simpler to render than to
depend on. Updates happen on the event-loop thread only, so no lock is needed.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

__all__ = ["LATENCY_BUCKETS", "ServerMetrics"]

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


P = "himed_rewards_"  # metric name prefix
D = P + "request_duration_seconds"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ServerMetrics:
    """Requests by endpoint and status, latency histogram, pairs, batches and judge failures.

    Examples:
        >>> m = ServerMetrics()
        >>> m.observe_request("/score", 200, 0.02)
        >>> m.observe_batch(pairs=3, judge_failures=1)
        >>> text = m.render()
        >>> 'himed_rewards_requests_total{endpoint="/score",status="200"} 1' in text
        True
        >>> "himed_rewards_judge_failures_total 1" in text
        True
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency_counts: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.pairs_total = 0
        self.batches_total = 0
        self.judge_failures_total = 0
        self.in_flight = 0
        self.queued_pairs = 0  # set by the server before rendering (admission control)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests[(endpoint, status)] += 1
        counts = self.latency_counts.setdefault(endpoint, [0] * (len(LATENCY_BUCKETS) + 1))
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum[endpoint] += seconds

    def observe_batch(self, *, pairs: int, judge_failures: int) -> None:
        self.batches_total += 1
        self.pairs_total += pairs
        self.judge_failures_total += judge_failures

    def render(self) -> str:
        lines = [
            "# HELP himed_rewards_requests_total HTTP requests by endpoint and status code.",
            "# TYPE himed_rewards_requests_total counter",
        ]
        for (endpoint, status), n in sorted(self.requests.items()):
            lines.append(
                f'{P}requests_total{{endpoint="{_label(endpoint)}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP himed_rewards_request_duration_seconds Request latency by endpoint.",
            "# TYPE himed_rewards_request_duration_seconds histogram",
        ]
        for endpoint, counts in sorted(self.latency_counts.items()):
            ep = _label(endpoint)
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'{D}_bucket{{endpoint="{ep}",le="{le}"}} {cumulative}')
            lines.append(f'{D}_sum{{endpoint="{ep}"}} {self.latency_sum[endpoint]!r}')
            lines.append(f'{D}_count{{endpoint="{ep}"}} {cumulative}')
        for name, kind, help_text, value in (
            (
                "pairs_scored_total",
                "counter",
                "Completion/reference pairs scored.",
                self.pairs_total,
            ),
            ("kernel_batches_total", "counter", "Micro-batched scoring calls.", self.batches_total),
            (
                "judge_failures_total",
                "counter",
                "Pairs whose semantic judge failed (semantic_error set).",
                self.judge_failures_total,
            ),
            ("requests_in_flight", "gauge", "Requests being served now.", self.in_flight),
            (
                "queued_pairs",
                "gauge",
                "Pairs admitted and not answered yet (queued or being scored).",
                self.queued_pairs,
            ),
        ):
            lines += [
                f"# HELP himed_rewards_{name} {help_text}",
                f"# TYPE himed_rewards_{name} {kind}",
                f"himed_rewards_{name} {value}",
            ]
        return "\n".join(lines) + "\n"
