"""Fixtures for the higher-derivative tests: run a test on the compiled C and on the numpy reference."""
import pytest

from dlgrad.frontend.cache import clear_caches


@pytest.fixture(params=["c", "numpy"])
def backend(request, monkeypatch):
    """The default (compiled C) backend, then the numpy reference backend."""
    if request.param == "numpy":
        monkeypatch.setenv("DLGRAD_BACKEND", "numpy")
    clear_caches()
    yield request.param
    clear_caches()
