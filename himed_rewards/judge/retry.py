"""Reading a server's ``Retry-After`` header (RFC 9110 section 10.2.3).

A rate-limited server (HTTP 429) or one that is briefly unavailable (503) says how long to
wait, either as a number of seconds or as an HTTP-date. Retrying sooner only earns another
429, and retrying the default backoff's ~1 s later dropped samples that one more second of
patience would have graded.
"""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

__all__ = ["retry_after_seconds"]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (>= 0), or ``None`` when the
    header is absent or unreadable.

    Args:
        value: the header's text: ``"120"`` (seconds) or an HTTP-date such as
            ``"Wed, 21 Oct 2015 07:28:00 GMT"``.
        now: the current time (``time.time()`` when ``None``), for HTTP-dates.

    Examples:
        >>> retry_after_seconds("3")
        3.0
        >>> retry_after_seconds("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0)
        6.0
        >>> retry_after_seconds("Thu, 01 Jan 1970 00:00:10 GMT", now=60.0)  # already past
        0.0
        >>> retry_after_seconds("soon") is None, retry_after_seconds(None) is None
        (True, True)
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a str or None, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text[:12]))  # 12 digits is already 30,000 years
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:  # RFC 9110 dates are always GMT
        return None
    wait = moment.timestamp() - (time.time() if now is None else now)
    return max(0.0, wait) if math.isfinite(wait) else None
