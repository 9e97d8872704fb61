"""The package a user installs: licence in repo, wheel and sdist; metadata; typing marker."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# md5 of the canonical Apache License 2.0 text (apache.org/licenses/LICENSE-2.0.txt).
APACHE_2_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def test_license_file_is_the_full_apache_2_text():
    assert hashlib.md5((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_MD5


def test_project_metadata():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert {"Source", "Issues", "Documentation"} <= set(project["urls"])
    versions = {c.rsplit(" ", 1)[-1] for c in project["classifiers"]
                if c.startswith("Programming Language :: Python :: 3.")}
    assert "3.10" in versions and project["requires-python"] == ">=3.10"
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # SPDX instead
    assert (ROOT / "himed_rewards" / "py.typed").is_file()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A wheel and an sdist built from the working tree (setuptools, no network)."""
    build_meta = pytest.importorskip("setuptools.build_meta")
    out = tmp_path_factory.mktemp("dist")
    # setuptools leaves build/ and *.egg-info in the tree: remove what this build created.
    leftovers = [ROOT / "build", ROOT / "himed_rewards.egg-info"]
    existed = {path for path in leftovers if path.exists()}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        wheel = out / build_meta.build_wheel(str(out))
        sdist = out / build_meta.build_sdist(str(out))
    finally:
        os.chdir(cwd)
        for path in leftovers:
            if path not in existed:
                shutil.rmtree(path, ignore_errors=True)
    return wheel, sdist


def test_wheel_carries_license_metadata_and_py_typed(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        license_name = next(n for n in names if n.endswith("licenses/LICENSE"))
        assert hashlib.md5(z.read(license_name)).hexdigest() == APACHE_2_MD5
    assert "himed_rewards/py.typed" in names
    assert "License-Expression: Apache-2.0" in metadata
    assert "Project-URL: Source," in metadata and "Project-URL: Issues," in metadata
    assert not any(n.startswith("tests/") for n in names)  # IU X-ray text stays out


def test_sdist_carries_license(built):
    _, sdist = built
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    root = names[0].split("/")[0]
    assert f"{root}/LICENSE" in names and f"{root}/himed_rewards/py.typed" in names
