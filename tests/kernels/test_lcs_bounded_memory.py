"""ROUGE-L memory stays bounded on huge vocabularies (issue 12, item 3) and the LCS is exact.

Dense occurrence masks cost (distinct tokens) x (length / 64) words: two 100k-distinct-word
texts took 1.2 GB and 250k raised MemoryError. Past ``DENSE_WORDS`` the kernel keeps position
lists instead; these tests force every mix of dense and sparse rows against a DP oracle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.kernels.lcs import lcs_lengths, lcs_pair
from himed_rewards.metrics._layout import concat

ROOT = Path(__file__).resolve().parents[2]


def dp_lcs(a, b) -> int:
    """O(len(a) * len(b)) dynamic programme with one row of memory."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b):
            above = row[j + 1]
            row[j + 1] = diagonal + 1 if x == y else max(above, row[j])
            diagonal = above
    return row[-1]


SEQ = st.integers(1, 40).flatmap(lambda v: st.lists(st.integers(0, v), max_size=300))


@settings(max_examples=150, deadline=None)
@given(hyp=SEQ, ref=SEQ, dense_words=st.sampled_from([0, 1, 3, 8, 1 << 22]))
def test_any_dense_budget_gives_the_exact_lcs(hyp, ref, dense_words):
    scratch = np.full(64, -1, dtype=np.int32)
    got = lcs_pair(np.array(hyp, dtype=np.int32), np.array(ref, dtype=np.int32), scratch,
                   dense_words)
    assert got == dp_lcs(hyp, ref)
    assert (scratch == -1).all()


@pytest.mark.parametrize("dense_words", [0, 2, 1 << 22])
def test_batch_kernel_with_shared_and_swapped_references(dense_words):
    rng = np.random.default_rng(7)
    long_ref = rng.integers(0, 3000, 4300).astype(np.int32)  # swaps roles (> 4096 tokens)
    shorts = [rng.integers(0, 3000, n).astype(np.int32) for n in (0, 1, 200, 700)]
    hyp_ids, hyp_offsets = concat(shorts)
    ref_ids, ref_offsets = concat([long_ref, shorts[2]])
    pair_hyp = np.array([0, 1, 2, 3, 2, 3], dtype=np.int64)
    pair_ref = np.array([0, 0, 0, 0, 1, 1], dtype=np.int64)
    scratch = np.full(3000, -1, dtype=np.int32)
    got = lcs_lengths(hyp_ids, hyp_offsets, ref_ids, ref_offsets, pair_hyp, pair_ref, scratch,
                      dense_words)
    refs = [long_ref, shorts[2]]
    expected = [dp_lcs(shorts[h].tolist(), refs[r].tolist())
                for h, r in zip(pair_hyp, pair_ref, strict=True)]
    assert got.tolist() == expected
    assert (scratch == -1).all()


_PROBE = """
import json, resource, sys, time
from himed_rewards.metrics import rouge_l
rouge_l("warm up", "warm up")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = int(sys.argv[1])
words = [f"w{i}" for i in range(n)]
start = time.perf_counter()
same = rouge_l(" ".join(words), " ".join(words))
reverse = rouge_l(" ".join(words), " ".join(reversed(words)))
seconds = time.perf_counter() - start
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"same": same, "reverse": reverse, "mb": grown, "seconds": seconds}))
"""


def test_two_texts_of_250k_distinct_words_fit_in_little_memory():
    # Before: 100k distinct words peaked at +1.2 GB, 250k raised MemoryError.
    n = 250_000
    done = subprocess.run([sys.executable, "-c", _PROBE, str(n)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same"] == 1.0
    assert result["reverse"] == pytest.approx(2 / n / 2)  # LCS of a reversal of distinct words: 1
    assert result["mb"] < 400, result
