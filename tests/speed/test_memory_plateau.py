"""Memory over a long run: unique words without end reach a plateau (vocabulary recycling)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from himed_rewards.text.cache import ByteLRU
from himed_rewards.text.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[2]

# Scores batches of completions made of never-seen words with a small vocabulary cap and
# prints the resident set size after each batch, plus the vocabulary's state at the end.
PROBE = r"""
import json, random
import numpy as np
from himed_rewards import RewardConfig, score_batch
from himed_rewards.text.vocabulary import VOCAB

VOCAB.max_tokens = 20_000
rng = random.Random(0)
off = RewardConfig(semantic=None)
ref = "The lungs are clear. Mild cardiomegaly. No pleural effusion."
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
rss, sizes, counter = [], [], 0
for batch in range(60):
    completions = []
    for _ in range(32):
        words = []
        for _ in range(40):
            counter += 1
            words.append(f"w{counter:x}q{rng.randrange(10**6)}")
        completions.append("<think>x</think><finding>" + " ".join(words)
                           + " lungs clear.</finding><impression>Normal.</impression>")
    out = score_batch(completions, [ref] * 32, config=off)
    assert all(np.isfinite(b.total) for b in out)
    rss.append(rss_mb())
    sizes.append(len(VOCAB))
check = score_batch(["<think>x</think><finding>Lungs clear. Mild cardiomegaly.</finding>"
                     "<impression>Normal.</impression>"], [ref], config=off)[0]
print(json.dumps({"rss": rss, "sizes": sizes, "generation": VOCAB.generation,
                  "words": counter, "check": [check.token, check.meteor, check.keyword_bonus]}))
"""


def test_unique_words_reach_a_memory_plateau():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rss, sizes = result["rss"], result["sizes"]
    assert result["words"] == 60 * 32 * 40  # 76,800 distinct words
    assert result["generation"] >= 2  # recycled more than once
    assert max(sizes) <= 20_000 + 32 * 50  # at most one batch past the cap
    # the second half of the run adds (almost) nothing: a plateau, not a slope
    assert max(rss[30:]) - max(rss[10:30]) < 8, rss
    # after recycles, scores of a known pair are unchanged (ids relearnt consistently)
    from himed_rewards import RewardConfig, score_batch

    fresh = score_batch(["<think>x</think><finding>Lungs clear. Mild cardiomegaly.</finding>"
                         "<impression>Normal.</impression>"],
                        ["The lungs are clear. Mild cardiomegaly. No pleural effusion."],
                        config=RewardConfig(semantic=None))[0]
    assert result["check"] == pytest.approx([fresh.token, fresh.meteor, fresh.keyword_bonus])


def test_recycle_keeps_pinned_ids_and_waits_for_calls_in_flight():
    v = Vocabulary(max_tokens=3)
    kept = v.ids(["lung", "heart"])
    v.pin(kept)
    forgotten = []
    v.on_recycle(lambda: forgotten.append(len(v)))
    v.ids(["a", "b", "c"])
    with v.session():  # over the cap, nothing in flight: recycles to the pinned prefix
        assert len(v) == 2 and forgotten == [2] and v.generation == 1
        v.ids(["x", "y", "z"])
        with v.session():  # another call in flight: never inside a call
            assert len(v) == 5 and v.generation == 1
    assert v.ids(["lung", "heart", "new"]).tolist() == [0, 1, 5]
    with v.session():
        assert v.tokens(range(len(v))) == ["lung", "heart"]
    assert v.ids(["b"]).tolist() == [2]  # freed ids are reused after a recycle


def test_byte_lru_stays_under_its_byte_budget_whatever_the_entry_sizes():
    cache = ByteLRU(lambda text: np.zeros(len(text), dtype=np.int32), max_bytes=1_000_000)
    for i in range(2_000):
        cache(str(i) * (1 + i % 300))  # entries from a few bytes to several kilobytes
    assert 0 < cache.nbytes <= 1_000_000 and 0 < len(cache) < 2_000
    cache("x" * 2_000_000)  # larger than the budget: computed, not kept
    assert cache.nbytes <= 1_000_000
