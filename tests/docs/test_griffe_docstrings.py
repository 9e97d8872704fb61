"""The docs build's griffe extension: Sphinx roles become Markdown, Returns sections appear."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

griffe = pytest.importorskip("griffe")
ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("griffe_docstrings",
                                              ROOT / "docs" / "_ext" / "griffe_docstrings.py")
ext = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ext)


@pytest.mark.parametrize(("text", "expected"), [
    (":func:`score_batch`", "`score_batch()`"),
    (":func:`~himed_rewards.score_batch`", "`score_batch()`"),
    (":class:`~himed_rewards.RewardConfig`", "`RewardConfig`"),
    (":mod:`himed_rewards.evaluation.chexpert`", "`himed_rewards.evaluation.chexpert`"),
    (":py:meth:`Tokenizer.signature`", "`Tokenizer.signature()`"),
    (":data:`CONVENTIONS` and :attr:`x.y`", "`CONVENTIONS` and `x.y`"),
    ("no roles here: `code`", "no roles here: `code`"),
])
def test_roles_become_code_spans(text, expected):
    assert ext.convert_roles(text) == expected


def test_every_package_docstring_is_rendered_without_roles():
    package = griffe.load("himed_rewards", search_paths=[str(ROOT)],
                          extensions=griffe.load_extensions(ext.SphinxRolesAndReturns))
    score_batch = package["rewards.compose.score_batch"]
    assert ":func:" not in score_batch.docstring.value
    sections = [s.kind.value for s in score_batch.docstring.parse("google")]
    assert "returns" in sections
    # a function written without a Returns section gets one, before its Examples
    source = (ROOT / "himed_rewards" / "rewards" / "format.py").read_text()
    assert "Returns:" not in source.split("def extract_report", 1)[1].split('"""', 2)[1]
    extract = package["rewards.format.extract_report"]
    kinds = [s.kind.value for s in extract.docstring.parse("google")]
    assert kinds.index("returns") < kinds.index("examples")
