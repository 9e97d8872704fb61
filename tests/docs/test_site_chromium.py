"""The built documentation site renders in headless Chromium (home, API and evaluation pages).

Builds the site with ``mkdocs build --strict`` into a temporary folder, serves it on
127.0.0.1 with the standard library, and drives Debian's ``chromium`` (installed by
``.ci/setup_docs_browser.sh``): ``--dump-dom`` to check the rendered headings, and
``--screenshot`` to save PNGs under the pytest tmp dir (or ``$HIMED_SCREENSHOT_DIR``).
Skipped when chromium or mkdocs is missing, except in CI (env ``CI`` set), where it fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parents[2]
# page -> headings the rendered DOM must contain (page title and mkdocstrings objects)
PAGES = {
    "": ["himed-rewards", "Concepts"],
    "concepts/": ["The equations"],
    "api/rewards/": ["Rewards API", "score_batch", "RewardConfig"],
    "evaluation/": ["Evaluation: the paper", "Result on the 590 IU X-ray test pairs",
                    "evaluate", "Conventions"],
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (run .ci/setup_docs_browser.sh)")
    pytest.skip(f"{what} is not available")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    _missing("chromium")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site and serve it; yields the base URL."""
    if shutil.which("mkdocs") is None and subprocess.run(
            [sys.executable, "-c", "import mkdocs"], capture_output=True).returncode:
        _missing("mkdocs (the docs extra)")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                            "--site-dir", str(out)], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr[-3000:]}"
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory) -> Path:
    folder = os.environ.get("HIMED_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _dom(site: str, page: str, profile: Path) -> str:
    """The DOM after scripts ran (the virtual time budget lets MathJax finish typesetting)."""
    result = _run_chromium(["--virtual-time-budget=15000", "--dump-dom", site + page], profile)
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-2000:]
    return result.stdout


def test_math_is_typeset_by_mathjax(site, tmp_path):
    dom = _dom(site, "concepts/", tmp_path / "profile")
    assert dom.count('class="arithmatex"') >= 4
    # MathJax replaced the TeX with rendered SVG: no raw TeX left in the math spans.
    assert dom.count("<mjx-container") >= 8, "MathJax did not typeset the formulas"
    assert "<svg" in dom and "\\alpha_1" not in dom.split("<mjx-container", 1)[1]


def test_api_signatures_show_annotations_and_returns(site, tmp_path):
    dom = _dom(site, "api/rewards/", tmp_path / "profile")
    signature = dom.split('id="himed_rewards.rewards.compose.score_batch"', 1)[1][:20000]
    assert "doc-signature" in signature
    text = re.sub(r"<[^>]+>", "", signature)
    assert "completions: Sequence[str]" in text and "step: int" in text
    assert "list[RewardBreakdown]" in text and "Returns" in text
    assert ":func:" not in dom and ":class:" not in dom  # Sphinx roles were converted


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_expected_headings(site, page, tmp_path):
    dom = _dom(site, page, tmp_path / "profile")
    assert "<h1" in dom
    for heading in PAGES[page]:
        assert heading in dom, f"{page or 'home'}: {heading!r} not rendered"
    assert "md-nav" in dom  # the Material theme's navigation was rendered


@pytest.mark.parametrize("page", list(PAGES))
def test_page_screenshot(site, page, tmp_path, screenshot_dir):
    name = (page.strip("/").replace("/", "_") or "home") + ".png"
    target = screenshot_dir / name
    result = _run_chromium([f"--screenshot={target}", "--window-size=1280,900", site + page],
                           tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 900)
