import os
import stat
import tempfile

import pytest

from dlgrad.runtime import cache


def test_explicit_directory_is_created_private(tmp_path, monkeypatch):
    target = tmp_path / "a" / "cache"
    monkeypatch.setenv("DLGRAD_CACHE_DIR", str(target))
    assert cache.cache_dir() == str(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert cache.cache_dir("so") == str(target / "so")
    assert os.path.isdir(target / "so")


def test_xdg_and_home_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("DLGRAD_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.wanted_dir() == str(tmp_path / "xdg" / "dlgrad")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.wanted_dir() == str(tmp_path / "home" / ".cache" / "dlgrad")


def test_unusable_directory_falls_back_with_a_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("DLGRAD_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="cannot use the cache directory"):
        root = cache.cache_dir()
    assert os.path.basename(root).startswith("dlgrad-cache-") and os.access(root, os.W_OK)
    assert cache.cache_dir() == root  # decided once per process


def test_atomic_write_replaces_whole_file_and_leaves_no_temporaries(tmp_path):
    path = str(tmp_path / "f.txt")
    cache.atomic_write(path, "old")
    cache.atomic_write(path, b"new", fsync=True)
    assert open(path).read() == "new"
    assert os.listdir(tmp_path) == ["f.txt"]
