"""Fixtures shared by the watermark tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def max_dct() -> ModuleType:
    """invisible-watermark's dwtDct embedder, the one Stable Diffusion runs.

    Loaded by file path: the package's ``__init__`` imports torch for a tensor
    helper the embedder never uses.
    """
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("invisible-watermark is not installed (scripts/bootstrap-venv.sh)")
    path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
    module_spec = importlib.util.spec_from_file_location("_imwm_maxdct", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
