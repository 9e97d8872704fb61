"""A dict for the judge's long-lived caches that the garbage collector never stops tracking.

CPython's full collection stops tracking an exact ``dict`` whose keys and values are all
untracked (str, int, tuples of them once a collection has looked at them: ``untrack_dicts``
in ``gcmodule.c``), and the next insertion of a tracked object (a fresh tuple) tracks it again
in the *youngest* generation. The next young collection then walks the whole dict: for the
judge's caches (thousands of sentences' keys, words, bodies), some 0.3-0.8 ms, once after each
full collection, which a training loop or a benchmark (``gc.collect()`` before each timed
call) may run before every reward call; measured on fresh GRPO batches, it was a fifth of
the offline judge's time (docs/speed_history.md). A dict subclass is never untracked
(``PyDict_CheckExact``), so a cache stays in the old generation it reached and young
collections pass it by; a full collection visits it, as it visits any tracked dict.
"""

from __future__ import annotations

__all__ = ["CacheDict"]


class CacheDict(dict):
    """A ``dict`` the garbage collector keeps tracking (see the module doc); nothing else
    differs.

    Examples:
        >>> import gc
        >>> plain, cache = {}, CacheDict()
        >>> plain["no"] = cache["no"] = tuple(["no", None])
        >>> _ = gc.collect()
        >>> gc.is_tracked(plain), gc.is_tracked(cache)
        (False, True)
    """

    __slots__ = ()
