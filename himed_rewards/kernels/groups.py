"""A batch's grouping arrays in one pass: what ``metrics._layout`` would get from numpy's
``argsort``, ``bincount`` and ``cumsum``.

Why a kernel: the reward lays out every batch, and each numpy call costs some 10-20 us on the
cold caches a training step leaves (docs/speed_history.md), more than the work itself.
"""

from __future__ import annotations

from himed_rewards.kernels._config import kernel


@kernel
def one_reference_groups(hyp_group, group_ref_offsets, group_hyp_offsets, hyp_index):
    """For hypotheses in groups ``hyp_group`` (int64, each in ``[0, G)``) with one reference
    each (``G + 1 = len(group_ref_offsets)``): ``group_ref_offsets`` = ``0..G``,
    ``group_hyp_offsets`` the CSR offsets of each group's hypothesis count, and
    ``hyp_index`` the hypotheses by group, in order within a group
    (``np.argsort(hyp_group, kind="stable")``)."""
    n_groups = group_ref_offsets.shape[0] - 1
    for g in range(n_groups + 1):
        group_ref_offsets[g] = g
        group_hyp_offsets[g] = 0
    for h in range(hyp_group.shape[0]):
        group_hyp_offsets[hyp_group[h] + 1] += 1
    for g in range(n_groups):
        group_hyp_offsets[g + 1] += group_hyp_offsets[g]
    # a counting sort, stable: each group's next free place, from its start
    cursor = group_hyp_offsets[:-1].copy()
    for h in range(hyp_group.shape[0]):
        g = hyp_group[h]
        hyp_index[cursor[g]] = h
        cursor[g] += 1
