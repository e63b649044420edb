"""Reliability fixtures: run a test under each backend, with fresh dlfeval caches."""
import pytest

from dlgrad.frontend.cache import clear_caches


@pytest.fixture(params=["c", "numpy"])
def backend(request, monkeypatch):
    """Run the test with compiled C, then with the numpy reference backend."""
    if request.param == "numpy":
        monkeypatch.setenv("DLGRAD_BACKEND", "numpy")
    clear_caches()
    yield request.param
    clear_caches()
