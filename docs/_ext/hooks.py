"""MkDocs hook: ship MathJax with the site, so formulas render offline.

MathJax 3 (``es5/tex-svg.js``: TeX input, SVG output with its fonts inside, one file) comes
from the ``django-static-mathjax`` package (MathJax 3.2.2, Apache-2.0; install the docs
extra), and is copied with its licence to ``assets/mathjax/`` of the built site.
Docs-build code only: not part of the package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError

TARGET = Path("assets") / "mathjax"


def _mathjax_dir() -> Path:
    try:
        import mathjax  # the django-static-mathjax distribution
    except ImportError as error:
        raise PluginError("the docs need MathJax from the package django-static-mathjax "
                          "(pip install django-static-mathjax==3.2.2.1)") from error
    return Path(mathjax.__file__).parent / "static" / "mathjax"


def on_config(config):
    """Fail early, before building pages, when MathJax is not installed."""
    script = _mathjax_dir() / "es5" / "tex-svg.js"
    if not script.is_file():
        raise PluginError(f"MathJax script not found: {script}")
    return config


def on_post_build(config) -> None:
    """Copy ``tex-svg.js`` and MathJax's LICENSE into the site."""
    source = _mathjax_dir()
    target = Path(config["site_dir"]) / TARGET
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "es5" / "tex-svg.js", target / "tex-svg.js")
    shutil.copyfile(source / "LICENSE", target / "LICENSE")
