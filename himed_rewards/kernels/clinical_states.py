"""A report's finding states from its sentence records, compiled (see ``kernels/clinical.py``).

What ``attributes._describe_with_filler`` (with ``_states``, ``_folded`` and ``_sites``) and
``judge.canonical_states`` do for one report, on the records of its sentences: the merged
polarities in the order of first mention, ``no_finding``, the attribute words of each
asserted finding folded into its state, and the interchangeable terms merged. A report's
states are rows of ``si`` (finding, polarity, sides, zones, change, position, sites,
dominant: small codes and bit sets) and ``sf`` (severity, size in mm), one per finding in the
order the Python dict has them; ``where[row, finding]`` is its slot (-1: not stated).
"""

from __future__ import annotations

from himed_rewards.kernels._config import kernel

# The codes a sentence record uses (clinical/records.py writes records with these tables).
# hit kinds
_SIDE, _ZONE, _CHANGE, _SEVERITY, _SIZE, _DOMINANT, _POSITION = 1, 2, 3, 4, 5, 6, 7
# a hit's value, per kind (severity and size are numbers); a side code is its bit in a
# state's sides (2: both), a zone or change code z its bit 1 << (z - 1)
SIDE_CODES = {"left": 0, "right": 1, "both": 2}
ZONE_CODES = {"central": 1, "lower": 2, "middle": 3, "upper": 4}
CHANGE_CODES = {"improved": 1, "new": 2, "stable": 3, "worsened": 4}
DOMINANT_CODES = {"left": 1, "right": 2}  # (3: two different predominant sides, "mixed")
POSITION_CODES = {"ok": 1, "malpositioned": 2}
# columns of si, a report's states
_F, _POL, _SIDES, _ZONES, _CHG, _POS, _SITES, _DOM = 0, 1, 2, 3, 4, 5, 6, 7
_NEG, _UNC, _POS_ = 0, 1, 2  # polarities by rank (judge._POLARITY_RANK)
_MALPOSITIONED = POSITION_CODES["malpositioned"]
_MIXED = 3
_UPPER_ZONE = 1 << (ZONE_CODES["upper"] - 1)



@kernel
def _put(si, sf, where, row, f, pol):
    # polarities[f] = pol (a new finding goes last)
    slot = where[row, f]
    if slot < 0:
        slot = 0
        while si[row, slot, _F] >= 0:
            slot += 1
        where[row, f] = slot
        si[row, slot, _F] = f
        for j in range(2, 8):
            si[row, slot, j] = 0
        sf[row, slot, 0] = sf[row, slot, 1] = 0.0
    si[row, slot, _POL] = pol


@kernel
def _pop(si, sf, where, row, f):
    slot = where[row, f]
    if slot < 0:
        return
    # keep the order: later states move up one slot
    k = slot
    while k + 1 < si.shape[1] and si[row, k + 1, _F] >= 0:
        k += 1
    for j in range(slot, k):
        where[row, si[row, j + 1, _F]] = j
        for col in range(8):
            si[row, j, col] = si[row, j + 1, col]
        sf[row, j, 0] = sf[row, j + 1, 0]
        sf[row, j, 1] = sf[row, j + 1, 1]
    si[row, k, _F] = -1
    where[row, f] = -1


@kernel
def _describe(blob, starts, rep_lo, rep_hi, rep_sentences, row, si, sf, where, keys_seen,
              other, no_finding, device):
    """attributes._describe_with_filler of one report into row ``row``: its filler count."""
    mentioned = normal = abnormal = significant = False
    filler = 0
    n_seen = 0
    for s in range(rep_lo[row], rep_hi[row]):
        i = starts[rep_sentences[s]]
        flags = int(blob[i])
        keys = int(blob[i + 1])
        repeat = False
        for k in range(n_seen):
            if keys_seen[k] == keys:
                repeat = True
                break
        if not repeat:
            keys_seen[n_seen] = keys
            n_seen += 1
        if not flags & 2 or repeat:
            filler += 1
        if flags & 1:
            normal = True
        n_said = int(blob[i + 2])
        if n_said == 0:
            continue
        i += 3
        first = not mentioned
        if first:
            mentioned = True
            abnormal = (flags & 8) != 0
            significant = (flags & 4) != 0
        else:
            abnormal = abnormal or (flags & 8) != 0
            significant = significant or (flags & 4) != 0
        for _ in range(n_said):
            f, pol = int(blob[i]), int(blob[i + 1])
            i += 2
            slot = where[row, f]
            if first or slot < 0 or pol > si[row, slot, _POL]:
                _put(si, sf, where, row, f, pol)
    if not abnormal and (mentioned or normal):
        _put(si, sf, where, row, no_finding, _POS_)
    _pop(si, sf, where, row, other)
    if where[row, no_finding] < 0 and mentioned and not significant:
        _put(si, sf, where, row, no_finding, _POS_)
    # attribute words, per finding in the order of its mentions (_states, _folded, _sites)
    malpositioned = False
    for k in range(si.shape[1]):
        f = si[row, k, _F]
        if f < 0:
            break
        if si[row, k, _POL] == _NEG:
            continue
        found = False
        sides = zones = change = sites = position = dominant = 0
        severity_sum = 0.0
        severity_n = 0
        size = 0.0
        for s in range(rep_lo[row], rep_hi[row]):
            i = starts[rep_sentences[s]] + 2
            i += 1 + 2 * int(blob[i])
            n_gathered = int(blob[i])
            i += 1
            for _ in range(n_gathered):
                pol = int(blob[i])
                n_f = int(blob[i + 1])
                named = False
                for j in range(n_f):
                    if int(blob[i + 2 + j]) == f:
                        named = True
                i += 2 + n_f
                n_hits = int(blob[i])
                hits = i + 1
                i += 1 + 2 * n_hits
                if pol == _NEG or not named:
                    continue
                found = True
                # this mention's sites (_sites): each side takes the zones up to the next
                leading = 0
                group_sides = 0
                group_zones = 0
                in_group = False
                for h in range(n_hits):
                    kind = int(blob[hits + 2 * h])
                    value = blob[hits + 2 * h + 1]
                    if kind == _SIDE:
                        if in_group:
                            sites |= _group_sites(group_sides, group_zones, leading)
                        in_group = True
                        code = int(value)
                        group_sides = 3 if code == 2 else 1 << code
                        group_zones = 0
                        sides |= group_sides
                    elif kind == _ZONE:
                        bit = 1 << (int(value) - 1)
                        zones |= bit
                        if in_group:
                            group_zones |= bit
                        else:
                            leading |= bit
                    elif kind == _CHANGE:
                        change |= 1 << (int(value) - 1)
                    elif kind == _SEVERITY:
                        severity_sum += value
                        severity_n += 1
                    elif kind == _SIZE:
                        size = max(size, value)
                    elif kind == _DOMINANT:
                        code = int(value)
                        dominant = code if dominant == 0 or dominant == code else _MIXED
                    elif kind == _POSITION and position != _MALPOSITIONED:
                        position = int(value)
                if in_group:
                    sites |= _group_sites(group_sides, group_zones, leading)
        if not found:
            continue
        si[row, k, _SIDES] = sides
        si[row, k, _ZONES] = zones
        si[row, k, _CHG] = change
        si[row, k, _POS] = position if f == device else 0
        si[row, k, _SITES] = sites
        si[row, k, _DOM] = dominant
        sf[row, k, 0] = severity_sum / severity_n if severity_n else 0.0
        sf[row, k, 1] = size
        if f == device and position == _MALPOSITIONED:
            malpositioned = True
    if malpositioned:
        _pop(si, sf, where, row, no_finding)
    return filler


@kernel
def _group_sites(sides, zones, leading):
    # (side, zone) bits of one side group: its zones, else the leading ones, else unstated
    use = zones if zones else leading
    out = 0
    for side in range(2):
        if not sides & (1 << side):
            continue
        if use == 0:
            out |= 1 << (side * 5)
        else:
            for z in range(4):
                if use & (1 << z):
                    out |= 1 << (side * 5 + z + 1)
    return out


@kernel
def _canonical(si, sf, where, row, scratch_i, scratch_f, same_as, lucency, pneumothorax):
    """judge.canonical_states in place: interchangeable terms merged, an apical lucency read
    as a possible pneumothorax."""
    luc = where[row, lucency]
    sign = luc >= 0 and (si[row, luc, _ZONES] & _UPPER_ZONE) != 0 \
        and where[row, pneumothorax] < 0
    rewrite = sign
    n = 0
    while n < si.shape[1] and si[row, n, _F] >= 0:
        if same_as[si[row, n, _F]] != si[row, n, _F]:
            rewrite = True
        n += 1
    if not rewrite:
        return
    for k in range(n):
        for col in range(8):
            scratch_i[k, col] = si[row, k, col]
        scratch_f[k, 0] = sf[row, k, 0]
        scratch_f[k, 1] = sf[row, k, 1]
        where[row, si[row, k, _F]] = -1
        si[row, k, _F] = -1
    count = 0
    for k in range(n):
        f = scratch_i[k, _F]
        pol = scratch_i[k, _POL]
        if f == lucency and sign:
            f = pneumothorax
            if pol == _POS_:
                pol = _UNC
        f = same_as[f]
        held = where[row, f]
        if held < 0:
            held = count
            count += 1
            where[row, f] = held
        elif pol <= si[row, held, _POL]:
            continue
        for col in range(2, 8):
            si[row, held, col] = scratch_i[k, col]
        si[row, held, _F] = f
        si[row, held, _POL] = pol
        sf[row, held, 0] = scratch_f[k, 0]
        sf[row, held, 1] = scratch_f[k, 1]
