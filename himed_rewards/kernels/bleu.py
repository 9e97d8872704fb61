"""BLEU from its sufficient statistics, replicating sacrebleu 2.x's ``compute_bleu``.

The float operations follow sacrebleu's order (precisions scaled by 100, logs summed left to
right, divided by the effective order, exponentiated, times BP) so results agree to the last
bits; the caller divides by 100.
"""

from __future__ import annotations

import math

import numpy as np

from himed_rewards.kernels._config import kernel

SMOOTH_NONE, SMOOTH_FLOOR, SMOOTH_ADD_K, SMOOTH_EXP = 0, 1, 2, 3
MEAN_GEOMETRIC, MEAN_ARITHMETIC = 0, 1


@kernel
def closest_ref_lens(hyp_lens, ref_lens, group_ref_offsets, hyp_group):
    """Per hypothesis, the reference length closest to it (ties: the shorter)."""
    out = np.empty(hyp_lens.shape[0], dtype=np.int64)
    for h in range(hyp_lens.shape[0]):
        g = hyp_group[h]
        best_diff = -1
        best = -1
        for r in range(group_ref_offsets[g], group_ref_offsets[g + 1]):
            diff = abs(hyp_lens[h] - ref_lens[r])
            if best_diff == -1 or diff < best_diff:
                best_diff = diff
                best = ref_lens[r]
            elif diff == best_diff and ref_lens[r] < best:
                best = ref_lens[r]
        out[h] = best
    return out


@kernel
def _my_log(x):
    return -9999999999.0 if x == 0 else math.log(x)


@kernel
def _bleu_into(correct_in, total_in, sys_len, ref_len, smooth, smooth_value, effective_order,
               mean, correct, total, precisions):
    """``bleu_row`` writing into caller-owned float buffers (no allocation per row)."""
    max_order = correct_in.shape[0]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    any_correct = False
    for n in range(max_order):
        correct[n] = correct_in[n]
        total[n] = total_in[n]
        precisions[n] = 0.0
        if correct_in[n] != 0:
            any_correct = True
    if not any_correct:
        return 0.0, bp
    smooth_mteval = 1.0
    eff_order = max_order
    for n in range(1, max_order + 1):
        if smooth == SMOOTH_ADD_K and n > 1:
            correct[n - 1] += smooth_value
            total[n - 1] += smooth_value
        if total[n - 1] == 0:
            break
        if effective_order:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth == SMOOTH_EXP:
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
            elif smooth == SMOOTH_FLOOR:
                precisions[n - 1] = 100.0 * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    if mean == MEAN_ARITHMETIC:
        # The HiMed paper's Eq. 3 read literally: BP * sum_n w_n p_n with w_n = 1/N.
        acc = 0.0
        for n in range(eff_order):
            acc += precisions[n] / eff_order
        return bp * acc, bp
    acc = 0.0
    for n in range(eff_order):
        acc += _my_log(precisions[n])
    return bp * math.exp(acc / eff_order), bp


@kernel
def bleu_row(correct_in, total_in, sys_len, ref_len, smooth, smooth_value, effective_order, mean):
    """One BLEU score in [0, 100] and its brevity penalty, from one row of statistics."""
    n = correct_in.shape[0]
    return _bleu_into(correct_in, total_in, sys_len, ref_len, smooth, smooth_value,
                      effective_order, mean, np.empty(n), np.empty(n), np.empty(n))


@kernel
def bleu_rows(correct, total, sys_len, ref_len, smooth, smooth_value, effective_order, mean):
    """``bleu_row`` over many rows; returns scores in [0, 100]."""
    n = correct.shape[1]
    buf_correct, buf_total, buf_precisions = np.empty(n), np.empty(n), np.empty(n)
    out = np.empty(correct.shape[0], dtype=np.float64)
    for i in range(correct.shape[0]):
        out[i] = _bleu_into(correct[i], total[i], sys_len[i], ref_len[i], smooth, smooth_value,
                            effective_order, mean, buf_correct, buf_total, buf_precisions)[0]
    return out
