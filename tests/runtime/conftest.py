"""A private cache directory for the whole runtime test session, so the user's cache is untouched."""
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dlgrad-cache"))
    old = os.environ.get("DLGRAD_CACHE_DIR")
    os.environ["DLGRAD_CACHE_DIR"] = path
    yield path
    if old is None:
        del os.environ["DLGRAD_CACHE_DIR"]
    else:
        os.environ["DLGRAD_CACHE_DIR"] = old
