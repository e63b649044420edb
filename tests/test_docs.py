"""The documentation site builds with warnings as errors, and its API reference covers dlgrad.__all__."""
import glob
import os
import re
import subprocess
import sys

import pytest

import dlgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_api_reference_lists_every_public_name():
    listed = set()
    for page in glob.glob(os.path.join(ROOT, "docs", "api", "*.md")):
        with open(page, encoding="utf-8") as f:
            listed.update(re.findall(r"^\s+- (\w+)\s*$", f.read(), flags=re.M))
    missing = sorted(set(dlgrad.__all__) - listed)
    assert not missing, f"add these public names to a members list in docs/api/*.md: {missing}"


def test_docs_build_strict(tmp_path):
    for package in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(package, reason="the docs extra is not installed (pip install 'dlgrad[docs]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "WARNING" not in output, output[-4000:]
    api = (tmp_path / "site" / "api" / "math" / "index.html").read_text(encoding="utf-8")
    assert 'id="dlgrad.exp"' in api and "Elementwise exp(x)." in api      # generated from the docstrings
    bench = (tmp_path / "site" / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "Latest figures" in bench                                       # benchmarks/README.md included
