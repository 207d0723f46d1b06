"""Fixtures for the implicit-label tests: exiftool with the TC260 namespace."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

TC260_CONFIG = """\
%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {
        TC260 => {
            SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::TC260' },
        },
    },
);
%Image::ExifTool::UserDefined::TC260 = (
    GROUPS => { 0 => 'XMP', 1 => 'XMP-TC260', 2 => 'Other' },
    NAMESPACE => { 'TC260' => 'http://www.tc260.org.cn/ns/AIGC/1.0/' },
    WRITABLE => 'string',
    AIGC => { },
);
1;
"""
"""Teaches exiftool the GB 45438 XMP namespace (prefix TC260, property AIGC)."""

Exiftool = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def exiftool(tmp_path_factory: pytest.TempPathFactory) -> Exiftool:
    """Run exiftool with the TC260 config: ``exiftool(*args)``; skips if absent."""
    binary = shutil.which("exiftool")
    if binary is None:
        pytest.skip("exiftool is not installed")
    config = tmp_path_factory.mktemp("exiftool") / "tc260.config"
    config.write_text(TC260_CONFIG)

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        cmd = [binary, "-config", str(config), *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, check=True)

    return run
