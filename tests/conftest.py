"""Session set-up shared by every test: a private on-disk cache for compiled code.

The user's cache is left alone: DLGRAD_CACHE_DIR points, for the whole session, at a
directory under pytest's temporary base, and is restored afterwards.
"""
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def dlgrad_session_cache(tmp_path_factory):
    path = str(tmp_path_factory.getbasetemp() / "dlgrad-cache")
    os.makedirs(path, exist_ok=True)
    old = os.environ.get("DLGRAD_CACHE_DIR")
    os.environ["DLGRAD_CACHE_DIR"] = path
    yield path
    if old is None:
        os.environ.pop("DLGRAD_CACHE_DIR", None)
    else:
        os.environ["DLGRAD_CACHE_DIR"] = old


@pytest.fixture(params=["c", "numpy"])
def backend(request, monkeypatch):
    """Run the test with compiled C, then with the numpy reference backend (fresh dlfeval caches)."""
    from dlgrad.frontend.cache import clear_caches
    if request.param == "numpy":
        monkeypatch.setenv("DLGRAD_BACKEND", "numpy")
    clear_caches()
    yield request.param
    clear_caches()
