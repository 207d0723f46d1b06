"""Shared fixtures: paths to the optional shared data set."""

from __future__ import annotations

from pathlib import Path

import pytest

from media_factory import SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (real faces, voices, C2PA files)")
    return SHARED_DATA
