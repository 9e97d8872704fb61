"""The batch parser (one kernel call) against the per-completion parser, on any input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.rewards.format import parse_completion
from himed_rewards.rewards.format_batch import parse_completions
from himed_rewards.text.tokenizers import get_tokenizer
from himed_rewards.text.vocabulary import VOCAB

TAGS = ["<think>", "</think>", "<finding>", "</finding>", "<impression>", "</impression>",
        "<THINK>", "<finding ", "</impression", "<", ">", "/"]
PIECES = st.one_of(
    st.sampled_from(TAGS),
    st.sampled_from([" ", "\n", "\t", "\x0b", "\x1c", "\x1f", "\x85", "\u3000", ""]),
    st.text(alphabet="abcXYZ019.,-/:;_ é°", max_size=12),
)
# completions shaped like well-formed ones, with bits inserted, dropped or doubled
BODY = st.text(alphabet="ab Z9.-/:,\n\t\x1cé", max_size=10)
SHAPED = st.builds(
    lambda pre, a, mid1, b, mid2, c, post: (f"{pre}<think>{a}</think>{mid1}<finding>{b}"
                                            f"</finding>{mid2}<impression>{c}</impression>{post}"),
    *[st.one_of(st.just(""), PIECES, BODY) for _ in range(7)],
)
COMPLETION = st.one_of(SHAPED, st.lists(PIECES, max_size=14).map("".join))


def _old(completions):
    return [parse_completion(c) for c in completions]


@settings(max_examples=400, deadline=None)
@given(st.lists(COMPLETION, max_size=8))
def test_same_reports_formats_and_ids_as_parse_completion(completions):
    parsed = parse_completions(completions)
    old = _old(completions)
    assert parsed.formats == [f for _, f in old]
    assert parsed.format_array.dtype == "float64" and parsed.format_array.tolist() == parsed.formats
    assert parsed.reports() == [r for r, _ in old]
    tokenizer = get_tokenizer("default")
    ids, offsets = parsed.encode(tokenizer)
    want_ids, want_offsets = tokenizer.encode_batch([r for r, _ in old])
    assert offsets.tolist() == want_offsets.tolist()
    assert VOCAB.tokens(ids) == VOCAB.tokens(want_ids)


def test_the_common_case_and_a_mixed_batch():
    good = ("<think>x</think>\n<finding> Mild T7-T8 Edema. </finding> "
            "<impression>No PTX.</impression>")
    completions = [good, "plain text", good.replace("Mild", "Mïld"), "<THINK>" + good[7:]]
    parsed = parse_completions(completions)
    assert parsed.formats == [1.0, -1.0, 1.0, -1.0]
    assert parsed.reports()[0] == "Mild T7-T8 Edema.\nNo PTX."
    ids, offsets = parsed.encode(get_tokenizer("default"))
    assert VOCAB.tokens(ids[offsets[0]:offsets[1]]) == ["mild", "t7-t8", "edema", ".", "no",
                                                        "ptx", "."]
    assert VOCAB.tokens(ids[offsets[2]:offsets[3]])[0] == "mïld"
    # another tokenizer reads the report texts
    ids13, offsets13 = parsed.encode(get_tokenizer("13a"))
    assert VOCAB.tokens(ids13[offsets13[0]:offsets13[1]])[:2] == ["Mild", "T7"]


def test_empty_batch():
    parsed = parse_completions([])
    assert parsed.formats == [] and parsed.reports() == []
    ids, offsets = parsed.encode(get_tokenizer("default"))
    assert ids.shape == (0,) and offsets.tolist() == [0]
