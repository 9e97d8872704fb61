"""Griffe extension for the docs build: docstrings written for Sphinx read well on the site.

* Sphinx roles (``:func:`score_batch```, ``:class:`~himed_rewards.RewardConfig```) become
  Markdown code spans (``score_batch()``, ``RewardConfig``) instead of showing raw.
* A public function whose docstring has no ``Returns:`` section but whose signature has a
  return annotation gets one, described by the docstring's summary line, so every signature
  on the site shows its return type in a Returns table.

Docs-build code only: not part of the package.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(func|meth|class|mod|data|attr|exc|obj|const)"
                   r":`(~?)([^`<>]+?)(?:\s*<([^`>]+)>)?`")
_SECTION = re.compile(r"^(Returns|Yields|Examples?|Raises|Notes?|Warnings?|See Also)\s*:\s*$",
                      re.M)


def _role_to_markdown(match: re.Match) -> str:
    kind, short, text, target = match.groups()
    name = (target or text).strip()
    if short:
        name = name.rsplit(".", 1)[-1]
    if kind in ("func", "meth") and not name.endswith(")"):
        name += "()"
    return f"`{name}`"


def convert_roles(text: str) -> str:
    """``:func:`~a.b``` -> ```b()```; other roles -> a code span of their target."""
    return _ROLE.sub(_role_to_markdown, text)


def _add_returns(func: Any) -> None:
    docstring = func.docstring
    returns = func.returns
    if docstring is None or returns is None or str(returns) in ("None", "NoReturn"):
        return
    if func.name.startswith("_") or re.search(r"^(Returns|Yields)\s*:", docstring.value, re.M):
        return
    summary = docstring.value.strip().split("\n\n", 1)[0].replace("\n", " ").strip()
    section = f"Returns:\n    {summary}\n"
    match = _SECTION.search(docstring.value)
    if match:  # before the first later section (Examples, Raises, ...)
        docstring.value = (docstring.value[:match.start()] + section + "\n"
                           + docstring.value[match.start():])
    else:
        docstring.value = docstring.value.rstrip() + "\n\n" + section


class SphinxRolesAndReturns(griffe.Extension):
    """Rewrites each docstring once, when griffe has loaded its object."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        obj.docstring.value = convert_roles(obj.docstring.value)
        if getattr(obj, "is_function", False):
            _add_returns(obj)
