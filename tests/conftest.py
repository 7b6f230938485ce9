"""Shared test setup: no test downloads, and none touches the user's cache.

- every test runs with ``SCRATCHLAB_CACHE`` pointing at a per-session temporary folder;
- `scratchlab.data.sources.urlopen` refuses anything but ``file://`` URLs;
- `data_env` gives a test its own empty ``SCRATCHLAB_DATA`` and cache folders.

Builders for tiny files in the official dataset formats are in `fakedata.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    old = os.environ.get("SCRATCHLAB_CACHE")
    os.environ["SCRATCHLAB_CACHE"] = str(tmp_path_factory.mktemp("scratchlab-cache"))
    yield
    if old is None:
        os.environ.pop("SCRATCHLAB_CACHE", None)
    else:
        os.environ["SCRATCHLAB_CACHE"] = old


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    import scratchlab.data.sources as sources

    real = sources.urlopen

    def local_only(url: str):
        if not str(url).startswith("file:"):
            raise OSError(f"tests must not download ({url})")
        return real(url)

    monkeypatch.setattr(sources, "urlopen", local_only)


@pytest.fixture
def data_env(tmp_path, monkeypatch) -> Path:
    """An empty ``SCRATCHLAB_DATA`` folder (returned) and a private, empty cache."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("SCRATCHLAB_DATA", str(root))
    monkeypatch.setenv("SCRATCHLAB_CACHE", str(tmp_path / "cache"))
    return root
