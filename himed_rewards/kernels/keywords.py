"""Keyword matching: a flattened token trie walked from every report position.

The trie holds every surface form of every keyword as a path of token ids. It is flattened
into int32 arrays so that a numba kernel can walk it:

* ``root_child[t]``: the node reached from the root by token ``t`` (-1: none). A dense table,
  because every report position starts at the root; token ids above its length are never
  in a keyword (keywords are interned before any report that could add later ids matters).
* ``child_start[n] : child_start[n + 1]``: the slice of ``child_token`` / ``child_node``
  holding node ``n``'s children, ``child_token`` sorted inside it (binary search; deeper
  nodes have few children).
* ``node_keyword[n]``: the keyword whose surface form ends at node ``n`` (-1: none).
* ``child_mask[n]``: bit ``t % 64`` set for every child token ``t`` of node ``n``. Most walks
  end at their second token, which is no child: one bit test then spares the binary search.

A walk from position ``i`` follows the report's tokens down the trie and reports every
keyword ending on the way, so overlapping and nested matches are all found, in
``O(len(report) * depth)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from himed_rewards.kernels._config import kernel

__all__ = ["TokenTrie", "build_trie", "match_spans", "distinct_keywords_batch"]


class TokenTrie(NamedTuple):
    """A flattened trie of keyword token sequences (see the module docstring)."""

    root_child: np.ndarray
    child_start: np.ndarray
    child_token: np.ndarray
    child_node: np.ndarray
    node_keyword: np.ndarray
    n_keywords: int
    depth: int
    child_mask: np.ndarray


def build_trie(sequences: Sequence[np.ndarray], keyword_of: Sequence[int]) -> TokenTrie:
    """Flatten the surface forms ``sequences`` (token id arrays) into a :class:`TokenTrie`.

    ``keyword_of[k]`` is the keyword that form ``k`` spells; empty forms are skipped.

    Examples:
        >>> trie = build_trie([np.array([3, 4]), np.array([4])], [0, 1])
        >>> trie.node_keyword.tolist(), trie.depth
        ([-1, -1, 0, 1], 2)
    """
    if len(sequences) != len(keyword_of):
        raise ValueError(
            f"keyword_of must have one entry per sequence, got {len(keyword_of)} for "
            f"{len(sequences)} sequences"
        )
    children: list[dict[int, int]] = [{}]
    ends: list[int] = [-1]
    for tokens, keyword in zip(sequences, keyword_of, strict=True):
        if len(tokens) == 0:
            continue
        node = 0
        for token in tokens.tolist():
            nxt = children[node].get(token)
            if nxt is None:
                nxt = children[node][token] = len(children)
                children.append({})
                ends.append(-1)
            node = nxt
        if ends[node] < 0:  # a form shared by two keywords keeps the first
            ends[node] = int(keyword)
    n_nodes = len(children)
    top = max(children[0], default=-1)
    root_child = np.full(top + 1, -1, dtype=np.int32)
    for token, node in children[0].items():
        root_child[token] = node
    child_start = np.zeros(n_nodes + 1, dtype=np.int32)
    flat_token: list[int] = []
    flat_node: list[int] = []
    for n, kids in enumerate(children):
        for token in sorted(kids):
            flat_token.append(token)
            flat_node.append(kids[token])
        child_start[n + 1] = len(flat_token)
    depth = max((len(s) for s in sequences), default=0)
    n_keywords = max((int(k) for k in keyword_of), default=-1) + 1
    child_token = np.asarray(flat_token, dtype=np.int32)
    parent = np.repeat(np.arange(n_nodes), np.diff(child_start))
    child_mask = np.zeros(n_nodes, dtype=np.uint64)
    np.bitwise_or.at(child_mask, parent,
                     np.left_shift(np.uint64(1), (child_token & 63).astype(np.uint64)))
    return TokenTrie(
        root_child,
        child_start,
        child_token,
        np.asarray(flat_node, dtype=np.int32),
        np.asarray(ends, dtype=np.int32),
        n_keywords,
        depth,
        child_mask,
    )


@kernel
def _child(node, token, child_start, child_token, child_node):
    lo = child_start[node]
    hi = child_start[node + 1]
    while lo < hi:  # binary search in the sorted children of node
        mid = (lo + hi) >> 1
        t = child_token[mid]
        if t < token:
            lo = mid + 1
        elif t > token:
            hi = mid
        else:
            return child_node[mid]
    return -1


@kernel
def _root(token, root_child):
    """The node reached from the root by ``token``; -1 if none."""
    if token < 0 or token >= root_child.shape[0]:
        return -1
    return root_child[token]


@kernel
def match_spans(ids, root_child, child_start, child_token, child_node, node_keyword, depth):
    """Every keyword occurrence in ``ids``: arrays (keyword, start, end), by start then end."""
    n = ids.shape[0]
    cap = n * max(depth, 1)
    out_kw = np.empty(cap, dtype=np.int32)
    out_start = np.empty(cap, dtype=np.int32)
    out_end = np.empty(cap, dtype=np.int32)
    found = 0
    for i in range(n):
        node = _root(ids[i], root_child)
        j = i + 1
        while node >= 0:
            kw = node_keyword[node]
            if kw >= 0:
                out_kw[found] = kw
                out_start[found] = i
                out_end[found] = j
                found += 1
            if j >= n:
                break
            node = _child(node, ids[j], child_start, child_token, child_node)
            j += 1
    return out_kw[:found].copy(), out_start[:found].copy(), out_end[:found].copy()


@kernel
def _grown(out, found, capacity):
    """``out[:found]`` in a new int32 array of ``capacity`` entries."""
    bigger = np.empty(capacity, dtype=np.int32)
    for q in range(found):  # not a slice copy: see kernels/intern.py
        bigger[q] = out[q]
    return bigger


@kernel
def distinct_keywords_batch(
    flat, offsets, root_child, child_start, child_token, child_node, node_keyword, n_keywords,
    child_mask,
):
    """Distinct keywords of each report ``flat[offsets[r]:offsets[r + 1]]``.

    Returns ``(out_offsets, out_keywords)``: report ``r``'s keywords are
    ``out_keywords[out_offsets[r]:out_offsets[r + 1]]``, each once, in no particular order
    (every caller sorts them by name or makes a set of them).

    Each report is read in three steps, the first two without a branch on the data (each
    such branch is a coin toss the processor mispredicts):

    1. the positions whose token starts a keyword path (a root child): a third of a
       report's tokens, at random (0.55 -> 0.42 us per fresh GRPO pair);
    2. for each, the keyword its token spells alone, kept if the report has not had it yet,
       and whether the next token goes on down the trie (0.44 -> 0.32 us);
    3. the walks that go on, as before, for the longer keywords.
    """
    n_reports = offsets.shape[0] - 1
    # seen[k + 1]: the report that last found keyword k; seen[0] is written for "no keyword"
    # (node_keyword -1), so that step 2 needs no branch on it
    seen = np.full(n_keywords + 1, -1, dtype=np.int64)
    out_offsets = np.zeros(n_reports + 1, dtype=np.int64)
    capacity = 64
    out = np.empty(capacity, dtype=np.int32)
    found = 0
    longest = 0
    for r in range(n_reports):
        longest = max(longest, offsets[r + 1] - offsets[r])
    starts = np.empty(longest, dtype=np.int64)
    nodes = np.empty(longest, dtype=np.int32)
    for r in range(n_reports):
        start = offsets[r]
        stop = offsets[r + 1]
        n_starts = 0
        for i in range(start, stop):  # 1. written always, kept (counted) when a root child
            node = _root(flat[i], root_child)
            starts[n_starts] = i
            nodes[n_starts] = node
            n_starts += node >= 0
        if found + n_starts > capacity:  # room for one keyword per start (grown geometrically)
            while capacity < found + n_starts:
                capacity *= 2
            out = _grown(out, found, capacity)
        n_deeper = 0
        for c in range(n_starts):  # 2. (the list of starts is rewritten with those going on)
            i = starts[c]
            node = nodes[c]
            kw = node_keyword[node]
            out[found] = kw
            found += (kw >= 0) & (seen[kw + 1] != r)
            seen[kw + 1] = r
            deeper = False
            if i + 1 < stop:  # (a false bit of the mask only costs step 3 a search)
                deeper = (child_mask[node] >> np.uint64(flat[i + 1] & 63)) & np.uint64(1) != 0
            starts[n_deeper] = i
            nodes[n_deeper] = node
            n_deeper += deeper
        for c in range(n_deeper):  # 3. down the trie from the second token on
            node = nodes[c]
            j = starts[c] + 1  # (step 2 tested its bit in the mask)
            while True:
                node = _child(node, flat[j], child_start, child_token, child_node)
                if node < 0:
                    break
                j += 1
                kw = node_keyword[node]
                if kw >= 0 and seen[kw + 1] != r:
                    seen[kw + 1] = r
                    if found == capacity:
                        capacity *= 2
                        out = _grown(out, found, capacity)
                    out[found] = kw
                    found += 1
                if j >= stop or not (child_mask[node] >> np.uint64(flat[j] & 63)) & np.uint64(1):
                    break  # the report ends, or no child of node has the next token
        out_offsets[r + 1] = found
    return out_offsets, out[:found].copy()
