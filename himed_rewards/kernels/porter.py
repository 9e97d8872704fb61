"""nltk 3.10's Porter stemmer (``NLTK_EXTENSIONS`` mode, its default) on ASCII bytes.

METEOR's stem pass meets every never-seen word of a training run (typos, numbers, rare
terms), and nltk's ``PorterStemmer.stem`` costs about 8 microseconds a word in Python. This
kernel stems a whole batch of words in one call, step for step as nltk does:

* a letter is a consonant unless it is a vowel (``aeiou``) or a ``y`` after a consonant (a
  ``y`` first in the word is a consonant); any other byte (digit, punctuation) is a consonant;
* the measure m of a stem is its number of vowel-to-consonant transitions;
* each step applies the *first* rule whose suffix the word ends with, and stops there
  whether or not the rule's condition holds (``_apply_rule_list``);
* steps 1a, 1b, 1c, 2 (with nltk's ``alli`` recursion and its ``fulli`` / ``logi`` rules),
  3, 4, 5a and 5b, with nltk's special cases (``ies`` / ``ied`` of 4-letter words, the
  ``y`` rule of step 1c, the two-letter ``*o`` case).

The front door (``himed_rewards.text.wordnet``) sends lowercase ASCII words that are not in
nltk's irregular-forms pool; words of at most 2 bytes come back unchanged, as in nltk.
"""

from __future__ import annotations

import types
from functools import lru_cache

import numpy as np

from himed_rewards.kernels._config import kernel

# Conditions of the suffix rules
_ALWAYS, _M_GT_0, _M_GT_1, _ION, _LOGI, _Y_TO_I = 0, 1, 2, 3, 4, 5

_STEPS: tuple[tuple[tuple[str, str, int], ...], ...] = (
    (("sses", "ss", _ALWAYS), ("ies", "i", _ALWAYS), ("ss", "ss", _ALWAYS), ("s", "", _ALWAYS)),
    (("y", "i", _Y_TO_I),),
    (("ational", "ate", _M_GT_0), ("tional", "tion", _M_GT_0), ("enci", "ence", _M_GT_0),
     ("anci", "ance", _M_GT_0), ("izer", "ize", _M_GT_0), ("bli", "ble", _M_GT_0),
     ("alli", "al", _M_GT_0), ("entli", "ent", _M_GT_0), ("eli", "e", _M_GT_0),
     ("ousli", "ous", _M_GT_0), ("ization", "ize", _M_GT_0), ("ation", "ate", _M_GT_0),
     ("ator", "ate", _M_GT_0), ("alism", "al", _M_GT_0), ("iveness", "ive", _M_GT_0),
     ("fulness", "ful", _M_GT_0), ("ousness", "ous", _M_GT_0), ("aliti", "al", _M_GT_0),
     ("iviti", "ive", _M_GT_0), ("biliti", "ble", _M_GT_0), ("fulli", "ful", _M_GT_0),
     ("logi", "log", _LOGI)),
    (("icate", "ic", _M_GT_0), ("ative", "", _M_GT_0), ("alize", "al", _M_GT_0),
     ("iciti", "ic", _M_GT_0), ("ical", "ic", _M_GT_0), ("ful", "", _M_GT_0),
     ("ness", "", _M_GT_0)),
    (("al", "", _M_GT_1), ("ance", "", _M_GT_1), ("ence", "", _M_GT_1), ("er", "", _M_GT_1),
     ("ic", "", _M_GT_1), ("able", "", _M_GT_1), ("ible", "", _M_GT_1), ("ant", "", _M_GT_1),
     ("ement", "", _M_GT_1), ("ment", "", _M_GT_1), ("ent", "", _M_GT_1), ("ion", "", _ION),
     ("ou", "", _M_GT_1), ("ism", "", _M_GT_1), ("ate", "", _M_GT_1), ("iti", "", _M_GT_1),
     ("ous", "", _M_GT_1), ("ive", "", _M_GT_1), ("ize", "", _M_GT_1)),
)  # fmt: skip
STEP_1A, STEP_1C, STEP_2, STEP_3, STEP_4 = range(5)


def _rule_tables() -> tuple[np.ndarray, ...]:
    """The rules as arrays: rule k's suffix is ``text[bounds[2k]:bounds[2k + 1]]``, its
    replacement ``text[bounds[2k + 1]:bounds[2k + 2]]``, its condition ``conditions[k]``;
    step s's rules are ``step_rules[s]:step_rules[s + 1]``."""
    text = b""
    bounds, conditions, step_rules = [0], [], [0]
    for rules in _STEPS:
        for suffix, replacement, condition in rules:
            text += suffix.encode("ascii")
            bounds.append(len(text))
            text += replacement.encode("ascii")
            bounds.append(len(text))
            conditions.append(condition)
        step_rules.append(len(conditions))
    return (np.frombuffer(text, dtype=np.uint8).copy(), np.asarray(bounds, dtype=np.int64),
            np.asarray(conditions, dtype=np.int64), np.asarray(step_rules, dtype=np.int64))


RULE_TEXT, RULE_BOUNDS, RULE_CONDITIONS, STEP_RULES = _rule_tables()


@kernel
def _consonant(w, i):
    """nltk's ``_is_consonant(word, i)`` (a ``y`` after a consonant is a vowel)."""
    c = w[i]
    if c == 97 or c == 101 or c == 105 or c == 111 or c == 117:  # a e i o u
        return False
    if c != 121:  # not y
        return True
    flag = True  # the y rule, from the word's start: flags[k] = not flags[k - 1] for a y
    for k in range(i + 1):
        c = w[k]
        if c == 97 or c == 101 or c == 105 or c == 111 or c == 117:
            flag = False
        elif c == 121:
            flag = True if k == 0 else not flag
        else:
            flag = True
    return flag


@kernel
def _measure(w, n):
    """The measure m of ``w[:n]``: its vowel-then-consonant transitions."""
    m = 0
    previous_vowel = False
    for k in range(n):
        c = w[k]
        if c == 97 or c == 101 or c == 105 or c == 111 or c == 117:
            consonant = False
        elif c == 121:
            consonant = True if k == 0 else previous_vowel
        else:
            consonant = True
        if consonant and previous_vowel:
            m += 1
        previous_vowel = not consonant
    return m


@kernel
def _contains_vowel(w, n):
    """Whether ``w[:n]`` holds a vowel (the flags of ``_consonant``, in one pass)."""
    flag = True
    for k in range(n):
        c = w[k]
        if c == 97 or c == 101 or c == 105 or c == 111 or c == 117:
            return True
        flag = (True if k == 0 else not flag) if c == 121 else True
        if not flag:
            return True
    return False


@kernel
def _ends_cvc(w, n):
    """nltk's ``_ends_cvc`` (condition *o) of ``w[:n]``, with its two-letter extension."""
    if n >= 3 and _consonant(w, n - 3) and not _consonant(w, n - 2) and _consonant(w, n - 1):
        c = w[n - 1]
        if c != 119 and c != 120 and c != 121:  # not w, x, y
            return True
    # w[n - 2], w[n - 1] rather than constant indices: one specialisation of _consonant
    return n == 2 and not _consonant(w, n - 2) and _consonant(w, n - 1)


@kernel
def _ends_with(w, n, text, s0, s1):
    length = s1 - s0
    if length > n:
        return False
    for k in range(length):  # noqa: SIM110 (numba compiles no generator in all())
        if w[n - length + k] != text[s0 + k]:
            return False
    return True


@kernel
def _apply_rules(w, n, first, stop, text, bounds, conditions):
    """The first of rules ``first:stop`` whose suffix ``w[:n]`` ends with; returns the new
    length. (Rule indices, not a step number: an integer constant argument would compile one
    specialisation per value.)"""
    if n == 0:
        return n
    last = w[n - 1]
    for r in range(first, stop):
        s0, s1, e1 = bounds[2 * r], bounds[2 * r + 1], bounds[2 * r + 2]
        # most rules fail on the last letter: test it before the call (every suffix is
        # non-empty)
        if text[s1 - 1] != last or not _ends_with(w, n, text, s0, s1):
            continue
        stem = n - (s1 - s0)
        condition = conditions[r]
        if condition == _M_GT_0:
            ok = _measure(w, stem) > 0
        elif condition == _M_GT_1:
            ok = _measure(w, stem) > 1
        elif condition == _ION:
            ok = _measure(w, stem) > 1 and (w[stem - 1] == 115 or w[stem - 1] == 116)
        elif condition == _LOGI:
            ok = _measure(w, n - 3) > 0
        elif condition == _Y_TO_I:
            ok = stem > 1 and _consonant(w, stem - 1)
        else:
            ok = True
        if not ok:
            return n
        for k in range(e1 - s1):
            w[stem + k] = text[s1 + k]
        return stem + (e1 - s1)
    return n


@kernel
def _step1b(w, n):
    if (n >= 3 and w[n - 3] == 105 and w[n - 2] == 101 and w[n - 1] == 100):  # ied
        return n - 1 if n == 4 else n - 2  # -> ie (4 letters), else -> i
    if n >= 3 and w[n - 3] == 101 and w[n - 2] == 101 and w[n - 1] == 100:  # eed
        return n - 1 if _measure(w, n - 3) > 0 else n
    if (n >= 2 and w[n - 2] == 101 and w[n - 1] == 100) and _contains_vowel(w, n - 2):  # ed
        n -= 2
    elif (n >= 3 and w[n - 3] == 105 and w[n - 2] == 110 and w[n - 1] == 103
          and _contains_vowel(w, n - 3)):  # ing
        n -= 3
    else:
        return n
    if n >= 2 and ((w[n - 2] == 97 and w[n - 1] == 116) or (w[n - 2] == 98 and w[n - 1] == 108)
                   or (w[n - 2] == 105 and w[n - 1] == 122)):  # at, bl, iz -> ate, ble, ize
        w[n] = 101
        return n + 1
    if n >= 2 and w[n - 1] == w[n - 2] and _consonant(w, n - 1):  # *d
        last = w[n - 1]
        if last != 108 and last != 115 and last != 122:  # not l, s, z: a single letter
            return n - 1
        return n
    if _measure(w, n) == 1 and _ends_cvc(w, n):
        w[n] = 101
        return n + 1
    return n


@kernel
def _stem_into(w, n, text, bounds, conditions, step_rules):
    """Stem ``w[:n]`` in place (``w`` has room for one more byte); returns the new length."""
    if n <= 2:
        return n
    if n == 4 and w[1] == 105 and w[2] == 101 and w[3] == 115:  # ies of a 4-letter word -> ie
        n = 3
    else:
        n = _apply_rules(w, n, step_rules[STEP_1A], step_rules[STEP_1A + 1], text, bounds,
                         conditions)
    n = _step1b(w, n)
    n = _apply_rules(w, n, step_rules[STEP_1C], step_rules[STEP_1C + 1], text, bounds,
                         conditions)
    # nltk's step 2 first turns a final "alli" into "al" while the rest has measure > 0,
    # then starts over
    while (n >= 4 and w[n - 4] == 97 and w[n - 3] == 108 and w[n - 2] == 108
           and w[n - 1] == 105 and _measure(w, n - 4) > 0):
        n -= 2
    n = _apply_rules(w, n, step_rules[STEP_2], step_rules[STEP_2 + 1], text, bounds,
                         conditions)
    n = _apply_rules(w, n, step_rules[STEP_3], step_rules[STEP_3 + 1], text, bounds,
                         conditions)
    n = _apply_rules(w, n, step_rules[STEP_4], step_rules[STEP_4 + 1], text, bounds,
                         conditions)
    if n >= 1 and w[n - 1] == 101:  # step 5a: a final e
        m = _measure(w, n - 1)
        if m > 1 or (m == 1 and not _ends_cvc(w, n - 1)):
            n -= 1
    # step 5b: ll -> l
    if n >= 2 and w[n - 2] == 108 and w[n - 1] == 108 and _measure(w, n - 1) > 1:
        n -= 1
    return n


@kernel
def porter_stems(buf, start, end, out, out_end, text, bounds, conditions, step_rules):
    """Stem the words ``buf[start[k]:end[k]]`` (lowercase ASCII) into ``out``, one after the
    other: word k's stem ends at ``out_end[k]`` (and starts at ``out_end[k - 1]``, or 0).
    ``out`` needs room for every word plus one byte. Returns the bytes written."""
    longest = 0
    for k in range(start.shape[0]):
        longest = max(longest, end[k] - start[k])
    w = np.empty(longest + 1, dtype=np.uint8)
    at = 0
    for k in range(start.shape[0]):
        n = end[k] - start[k]
        for i in range(n):
            w[i] = buf[start[k] + i]
        n = _stem_into(w, n, text, bounds, conditions, step_rules)
        for i in range(n):
            out[at + i] = w[i]
        at += n
        out_end[k] = at
    return at


# The step functions above, run by the Python interpreter instead (``interpreted_stem``).
_STEP_FUNCTIONS = ("_consonant", "_measure", "_contains_vowel", "_ends_cvc", "_ends_with",
                   "_apply_rules", "_step1b", "_stem_into")


@lru_cache(maxsize=1)
def _interpreted_stem_into():
    """``_stem_into`` and the functions it calls as plain Python functions: the same code
    objects, bound to a namespace where the step names are the Python functions rather than
    the kernels, so calling it compiles nothing (a first call with a few words would otherwise
    pay the 2.5 s compile of the kernel, or the 0.6 s import of nltk)."""
    namespace = dict(globals())
    for name in _STEP_FUNCTIONS:
        func = namespace[name].py_func  # a lazy stand-in or a numba dispatcher: both have it
        namespace[name] = types.FunctionType(func.__code__, namespace, func.__name__,
                                             func.__defaults__, func.__closure__)
    tables = (RULE_TEXT.tolist(), RULE_BOUNDS.tolist(), RULE_CONDITIONS.tolist(),
              STEP_RULES.tolist())
    return namespace["_stem_into"], tables


def interpreted_stem(word: str) -> str:
    """The Porter steps of the kernel on one word's code points, in the interpreter (about
    10-20 microseconds a word). Any code point other than ``aeiouy`` is a consonant, as in
    nltk, so non-ASCII words stem as nltk stems them. No lowercasing, no irregular forms, no
    short-word rule: the caller's (``himed_rewards.text.porter``).

    Examples:
        >>> interpreted_stem("opacities"), interpreted_stem("résumés")
        ('opac', 'résumé')
    """
    stem_into, tables = _interpreted_stem_into()
    w = [ord(c) for c in word]
    w.append(0)  # a stem grows by one letter at most
    n = stem_into(w, len(word), *tables)
    return "".join(map(chr, w[:n]))
