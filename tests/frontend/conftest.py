"""Fixtures of the frontend tests."""
import pytest


@pytest.fixture(params=["native", "python"])
def call_path(request, monkeypatch):
    """The hit path through the native dispatcher, then through generated Python."""
    from dlgrad.runtime import fastcall
    if request.param == "python":
        monkeypatch.setenv(fastcall.DISABLE_VARIABLE, "0")
    return request.param
