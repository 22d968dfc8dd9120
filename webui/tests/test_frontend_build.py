"""The committed editor bundle and htmx are exactly what frontend/ builds from its lock file.

A clean copy of frontend/ installs the pinned packages (``npm ci``) and rebuilds; the result
must equal the committed files byte for byte, so the bundle in static/ is reproducible from
the sources in the repository and nobody edits it by hand.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILT_FILES = ["js/editor.bundle.js", "vendor/htmx.min.js"]

pytestmark = pytest.mark.real


def test_rebuilding_the_frontend_yields_the_committed_bytes(tmp_path):
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are needed to rebuild the editor bundle")
    frontend = tmp_path / "frontend"
    frontend.mkdir()
    for name in ("package.json", "package-lock.json", "build.mjs"):
        shutil.copy2(REPO / "frontend" / name, frontend / name)
    shutil.copytree(REPO / "frontend" / "src", frontend / "src")
    for name in BUILT_FILES:
        (tmp_path / "static" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "static" / name, tmp_path / "static" / name)

    install = subprocess.run(
        [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=frontend,
        capture_output=True,
        text=True,
        timeout=100,
    )
    if install.returncode != 0:
        pytest.skip(f"npm ci could not install the pinned packages: {install.stderr[-500:]}")
    check = subprocess.run(
        ["node", "build.mjs", "--check"], cwd=frontend, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr
    assert "static assets match a fresh build" in check.stdout
