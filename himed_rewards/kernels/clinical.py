"""The offline clinical judge's merge and scoring, compiled: one call per batch.

``clinical.records`` writes what each analysed sentence says (``SentenceFacts``) as a
record of numbers in one float64 array, ``blob`` (layout below), and a report as the list
of its sentences' records. :func:`judge_reports` then does, for every distinct report of a
batch, what ``attributes._describe_with_filler`` and ``judge.canonical_states`` do, and for
every pair what ``judge._Reference`` and ``judge._judge`` do: the same arithmetic in the same
order, so the same floats (the Python functions stay the reference; tests compare the two).

A sentence record, from ``blob[start]``::

    flags (1 normal, 2 content, 4 significant, 8 abnormal), keys id (verbatim repeats),
    n_said, (finding, polarity) * n_said,
    n_gathered, (polarity, n_findings, finding * n_findings, n_hits, (kind, value) * n_hits)
    * n_gathered

Findings are ids of ``records.FINDINGS``; polarities 0 negative, 1 uncertain, 2 positive
(their rank); the other codes are in ``kernels/clinical_states.py``. A report's states are
rows of ``si`` (finding, polarity, sides, zones, change, position, sites, dominant: small
codes and bit sets) and ``sf`` (severity, size in mm), one row per finding in the order the
Python dict has them (``clinical_states``).
"""

from __future__ import annotations

import math

import numpy as np

from himed_rewards.kernels._config import kernel
from himed_rewards.kernels.clinical_states import (
    _CHG,
    _DOM,
    _F,
    _MALPOSITIONED,
    _NEG,
    _POL,
    _POS,
    _POS_,
    _SIDES,
    _SITES,
    _UNC,
    _ZONES,
    _canonical,
    _describe,
)

__all__ = ["judge_reports"]


@kernel
def _site_credit(mine, theirs):
    # sites as bit sets: bit side * 5 + zone, zone 0 = unstated
    credit = 0.0
    for bit in range(10):
        if not mine & (1 << bit):
            continue
        if theirs & (1 << bit):
            credit += 1.0
            continue
        side, zone = bit // 5, bit % 5
        for other in range(side * 5, side * 5 + 5):
            if theirs & (1 << other) and (other % 5 == 0 or zone == 0):
                credit += 0.75
                break
    return credit


@kernel
def _bits(x):
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@kernel
def _as_sites(sites, sides):
    # c.sites or {(s, "") for s in c.sides}
    if sites:
        return sites
    out = 0
    if sides & 1:
        out |= 1
    if sides & 2:
        out |= 1 << 5
    return out


@kernel
def _attribute_penalty(si, sf, c, cs, r, rs):
    penalty = 0.0
    c_sides, r_sides = si[c, cs, _SIDES], si[r, rs, _SIDES]
    if c_sides and r_sides and (c_sides != r_sides or si[c, cs, _SITES] != si[r, rs, _SITES]):
        mine = _as_sites(si[c, cs, _SITES], c_sides)
        theirs = _as_sites(si[r, rs, _SITES], r_sides)
        overlap = (_site_credit(mine, theirs) + _site_credit(theirs, mine)) \
            / (_bits(mine) + _bits(theirs))
        penalty += 0.75 * (1.0 - overlap)
    c_dom, r_dom = si[c, cs, _DOM], si[r, rs, _DOM]
    if c_dom and r_dom and c_dom != r_dom:
        penalty += 0.3
    c_zones, r_zones = si[c, cs, _ZONES], si[r, rs, _ZONES]
    if c_zones and r_zones and not c_zones & r_zones:
        penalty += 0.3
    c_sev, r_sev = sf[c, cs, 0], sf[r, rs, 0]
    if c_sev and r_sev:
        penalty += 0.3 * abs(c_sev - r_sev)
    c_size, r_size = sf[c, cs, 1], sf[r, rs, 1]
    if c_size and r_size:
        penalty += min(0.75, abs(math.log(c_size / r_size)))
    c_chg, r_chg = si[c, cs, _CHG], si[r, rs, _CHG]
    if c_chg and r_chg and not c_chg & r_chg:
        penalty += 0.4
    elif c_chg and not r_chg:
        penalty += 0.2
    c_pos, r_pos = si[c, cs, _POS], si[r, rs, _POS]
    if c_pos and r_pos and c_pos != r_pos:
        penalty += 1.0
    return penalty


@kernel
def _agreement(si, sf, agree, c, cs, r, rs):
    cp, rp = si[c, cs, _POL], si[r, rs, _POL]
    base = agree[cp, rp]
    if cp != _NEG and rp != _NEG:
        base = max(0.0, base - _attribute_penalty(si, sf, c, cs, r, rs))
    return base


@kernel
def _omission_penalty(si, sf, c, cs, r, rs):
    if si[c, cs, _POL] == _NEG:
        return 0.0
    missing = 0
    if si[r, rs, _SIDES] and not si[c, cs, _SIDES]:
        missing += 1
    if sf[r, rs, 0] and not sf[c, cs, 0]:
        missing += 1
    if sf[r, rs, 1] and not sf[c, cs, 1]:
        missing += 1
    if si[r, rs, _CHG] and not si[c, cs, _CHG]:
        missing += 1
    penalty = 0.1 * missing
    if si[r, rs, _POS] == _MALPOSITIONED and not si[c, cs, _POS]:
        penalty += 0.5
    return penalty


@kernel
def _weight(si, sf, weights, f, a, a_slot, b, b_slot):
    # _weight(finding, a, b); b < 0: only one state
    weight = weights[f]
    for k in range(2):
        row, slot = (a, a_slot) if k == 0 else (b, b_slot)
        if row < 0:
            continue
        if si[row, slot, _POS] == _MALPOSITIONED:
            weight = max(weight, 4.0)
        if sf[row, slot, 0] >= 2.5:
            weight = max(weight, 1.5 * weights[f])
    return weight


@kernel
def _implied_state(si, where, row, f, no_finding, is_finding, child_lo, child_hi, children,
                   bare):
    """judge._state: ``(row, slot)`` of a report's state for ``f``, implied by its children
    (or, for no_finding, by its findings) when unstated; row -1 when there is none."""
    slot = where[row, f]
    if slot >= 0:
        return row, slot
    found = -1  # the most assertive polarity of what implies the state
    if f == no_finding:
        for k in range(si.shape[1]):
            if si[row, k, _F] < 0:
                break
            if is_finding[si[row, k, _F]]:
                found = max(found, si[row, k, _POL])
        asserted = _NEG  # a finding stated: the study is not normal
    else:
        for k in range(child_lo[f], child_hi[f]):
            child = where[row, children[k]]
            if child >= 0:
                found = max(found, si[row, child, _POL])
        asserted = _POS_  # a child stated: so is its parent
    if found == _POS_:
        return bare + asserted, 0
    if found == _UNC:
        return bare + _UNC, 0
    return -1, 0


# nogil: its one caller (clinical.encoded.judge_array) holds the store's lock, and its other
# arguments are read-only tables; while it runs, a low-level kernel finishing on another
# thread takes the GIL for its last Python lines instead of waiting for the judge to end
@kernel(nogil=True)
def judge_reports(blob, starts, rep_lo, rep_hi, rep_sentences, pair_cand, pair_ref, n_findings,
                  constants_i, weights, is_finding, child_lo, child_hi, children, parent_lo,
                  parent_hi, parents, same_as, agree, recall_negation):
    """``(accuracy, relevance, completeness)`` of each pair of reports (see the module doc).

    ``constants_i``: the ids of no_finding, _other, support_devices, x:lucency and
    pneumothorax. ``is_finding``: 1 for the findings judge._no_finding_state reads (a
    pathology or a judge-only concept), 2 more for those judge._CHILDREN names as parents.
    """
    no_finding, other, device = constants_i[0], constants_i[1], constants_i[2]
    lucency, pneumothorax = constants_i[3], constants_i[4]
    n_reports = rep_lo.shape[0]
    # slots per report: at most one per finding its sentences name, and no_finding
    slots = 1
    longest = 1
    for row in range(n_reports):
        named = 1
        for s in range(rep_lo[row], rep_hi[row]):
            named += int(blob[starts[rep_sentences[s]] + 2])
        slots = max(slots, min(named, n_findings))
        longest = max(longest, rep_hi[row] - rep_lo[row])
    bare = n_reports  # rows bare, bare + 1, bare + 2: the bare negative, uncertain, positive
    si = np.full((n_reports + 3, slots, 8), -1, np.int64)
    sf = np.zeros((n_reports + 3, slots, 2), np.float64)
    where = np.full((n_reports + 3, n_findings), -1, np.int64)
    for p in range(3):
        for col in range(8):
            si[bare + p, 0, col] = 0
        si[bare + p, 0, _POL] = p
    fillers = np.zeros(n_reports, np.int64)
    keys_seen = np.zeros(longest, np.int64)
    scratch_i = np.zeros((slots, 8), np.int64)
    scratch_f = np.zeros((slots, 2), np.float64)
    for row in range(n_reports):
        fillers[row] = _describe(blob, starts, rep_lo, rep_hi, rep_sentences, row, si, sf,
                                 where, keys_seen, other, no_finding, device)
        _canonical(si, sf, where, row, scratch_i, scratch_f, same_as, lucency, pneumothorax)
    # what scoring against each reference needs (judge._Reference), once per reference
    ref_of = np.full(n_reports, -1, np.int64)
    n_refs = 0
    for p in range(pair_ref.shape[0]):
        if ref_of[pair_ref[p]] < 0:
            ref_of[pair_ref[p]] = n_refs
            n_refs += 1
    stated = np.zeros((n_refs, n_findings), np.bool_)
    asserted = np.zeros((n_refs, n_findings), np.bool_)
    n_asserted = np.zeros(n_refs, np.int64)
    negations = np.zeros((n_refs, slots), np.int64)
    n_negations = np.zeros(n_refs, np.int64)
    target_slot = np.zeros((n_refs, slots), np.int64)
    target_weight = np.zeros((n_refs, slots), np.float64)
    n_targets = np.zeros(n_refs, np.int64)
    total_weight = np.zeros(n_refs, np.float64)
    for r in range(n_reports):
        q = ref_of[r]
        if q < 0:
            continue
        stated[q, no_finding] = True
        for f in range(n_findings):
            if is_finding[f] & 2:
                stated[q, f] = True
        w_sum = 0.0
        nf_slot = -1
        for k in range(slots):
            f = si[r, k, _F]
            if f < 0:
                break
            stated[q, f] = True
            if f == no_finding:
                nf_slot = k
            if si[r, k, _POL] == _NEG:
                negations[q, n_negations[q]] = f
                n_negations[q] += 1
                continue
            asserted[q, f] = True
            for j in range(parent_lo[f], parent_hi[f]):
                asserted[q, parents[j]] = True
            if f != no_finding:
                w = _weight(si, sf, weights, f, r, k, -1, 0)
                w_sum += w
                target_slot[q, n_targets[q]] = k
                target_weight[q, n_targets[q]] = w
                n_targets[q] += 1
        if nf_slot >= 0:
            w = _weight(si, sf, weights, no_finding, r, nf_slot, -1, 0)
            w_sum += w
            target_slot[q, n_targets[q]] = nf_slot
            target_weight[q, n_targets[q]] = w
            n_targets[q] += 1
        for _ in range(n_negations[q]):
            w_sum += 0.1
        total_weight[q] = w_sum
        for f in range(n_findings):
            if asserted[q, f]:
                n_asserted[q] += 1
    out = np.empty((pair_cand.shape[0], 3), np.float64)
    mine = np.zeros(n_findings, np.bool_)
    for p in range(pair_cand.shape[0]):
        c, r = pair_cand[p], pair_ref[p]
        q = ref_of[r]
        n_c = 0
        while n_c < slots and si[c, n_c, _F] >= 0:
            n_c += 1
        n_r = 0
        while n_r < slots and si[r, n_r, _F] >= 0:
            n_r += 1
        # accuracy: the candidate's claims, each against what the reference says of it
        if n_c:
            credit = total = 0.0
            for k in range(n_c):
                f = si[c, k, _F]
                pol = si[c, k, _POL]
                if pol != _NEG:
                    mine[f] = True
                    for j in range(parent_lo[f], parent_hi[f]):
                        mine[parents[j]] = True
                if stated[q, f]:
                    rr, rs = _implied_state(si, where, r, f, no_finding, is_finding, child_lo,
                                            child_hi, children, bare)
                    if rr < 0:
                        rr, rs = bare + _NEG, 0
                else:
                    rr, rs = bare + _NEG, 0
                if pol == _NEG and si[rr, rs, _POL] == _NEG:
                    continue  # a correct negation: no gain, no loss
                w = _weight(si, sf, weights, f, c, k, rr, rs)
                credit += w * _agreement(si, sf, agree, c, k, rr, rs)
                total += w
            accuracy = (credit + 0.5) / (total + 0.5)
        else:
            accuracy = 0.0 if n_r else 1.0
        # relevance
        addressed = 0.0
        nf_c = where[c, no_finding]
        normal_recall = 1.0 if nf_c >= 0 else 0.0
        for j in range(n_negations[q]):
            slot = where[c, negations[q, j]]
            addressed += normal_recall if slot < 0 else recall_negation[si[c, slot, _POL]]
        n_mine = 0
        shared = 0
        for f in range(n_findings):
            if mine[f]:
                n_mine += 1
                if asserted[q, f]:
                    shared += 1
                mine[f] = False
        if n_mine or n_asserted[q] or n_negations[q]:
            sizes = n_mine + n_asserted[q] + 0.25 * (addressed + n_negations[q])
            relevance = 2.0 * (shared + 0.25 * addressed) / sizes if sizes else 0.0
        else:
            relevance = 1.0 if (n_c > 0) == (n_r > 0) else 0.0
        extra = max(0, fillers[c] - fillers[r])
        relevance /= 1.0 + 0.25 * extra
        # completeness: the reference's findings, each against what the candidate says
        if n_targets[q] or n_negations[q]:
            recalled = 0.0
            for t in range(n_targets[q]):
                rs = target_slot[q, t]
                f = si[r, rs, _F]
                if f == no_finding or is_finding[f] & 2:
                    cc, cs = _implied_state(si, where, c, f, no_finding, is_finding, child_lo,
                                            child_hi, children, bare)
                else:
                    cc, cs = c, where[c, f]
                    if cs < 0:
                        cc = -1
                if cc < 0:
                    continue
                recalled += target_weight[q, t] * max(
                    0.0, _agreement(si, sf, agree, cc, cs, r, rs)
                    - _omission_penalty(si, sf, cc, cs, r, rs))
            for j in range(n_negations[q]):
                slot = where[c, negations[q, j]]
                recalled += 0.1 * (normal_recall if slot < 0
                                   else recall_negation[si[c, slot, _POL]])
            completeness = recalled / total_weight[q]
        else:
            completeness = 1.0
        out[p, 0] = accuracy
        out[p, 1] = relevance
        out[p, 2] = completeness
    return out
