"""Every Python code block of the documentation site (and the README) runs as written.

Blocks of one page run in order in one namespace (a reader keeps the imports of earlier
blocks), in a temporary working directory. A block needing an optional extra that is not
installed is skipped, except in CI (env ``CI`` set), where the extras are installed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([*ROOT.glob("docs/**/*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
OPTIONAL = {"trl", "torch", "transformers", "fastapi", "uvicorn", "himed_train", "accelerate",
            "peft", "datasets", "matplotlib", "pycocoevalcap"}


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """``(line, code)`` of every fenced ``python`` block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_site_has_python_blocks_to_run():
    assert sum(len(python_blocks(p)) for p in PAGES) >= 11


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for line, code in python_blocks(page):
        where = f"{page.relative_to(ROOT)}:{line}"
        try:
            exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the docs' own code
        except ModuleNotFoundError as error:
            if error.name and error.name.split(".")[0] in OPTIONAL and not os.environ.get("CI"):
                pytest.skip(f"{where} needs the optional {error.name!r}")
            raise
