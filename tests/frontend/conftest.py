"""Frontend fixtures: run a test under each backend (compiled C unless DLGRAD_BACKEND says numpy)."""
import pytest

from dlgrad.frontend.cache import clear_caches


@pytest.fixture(params=["c", "numpy"])
def backend(request, monkeypatch):
    """Run the test with the default backend, then with the numpy reference backend."""
    if request.param == "numpy":
        monkeypatch.setenv("DLGRAD_BACKEND", "numpy")
    clear_caches()
    yield request.param
    clear_caches()
