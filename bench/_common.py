"""Helpers shared by the benchmarks: timing, machine facts, exiftool."""

from __future__ import annotations

import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXIT_NO_EXIFTOOL = 3

# exiftool knows no TC260 namespace; this user config teaches it
# XMP-TC260:AIGC (http://www.tc260.org.cn/ns/AIGC/1.0/) for reading and writing.
EXIFTOOL_TC260_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {
        TC260 => {
            SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::TC260' },
        },
    },
);
%Image::ExifTool::UserDefined::TC260 = (
    GROUPS => { 0 => 'XMP', 1 => 'XMP-TC260', 2 => 'Image' },
    NAMESPACE => { 'TC260' => 'http://www.tc260.org.cn/ns/AIGC/1.0/' },
    WRITABLE => 'string',
    AIGC => { },
);
1;
"""


@dataclass(frozen=True, slots=True)
class Measurement:
    """Timed runs of one tool over the corpus."""

    tool: str
    files: int
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def files_per_s(self) -> float:
        return self.files / self.median


def ensure_exiftool() -> str:
    """exiftool's path, installing it with the repository's script if needed."""
    exe = shutil.which("exiftool")
    if exe is None:
        script = REPO / "scripts" / "install-sysdeps.sh"
        subprocess.run(["bash", str(script)], check=False)
        exe = shutil.which("exiftool")
    if exe is None:
        print(
            "error: exiftool is not installed and could not be installed.\n"
            "Install the Debian package libimage-exiftool-perl (as root: "
            "bash scripts/install-sysdeps.sh) and run again.",
            file=sys.stderr,
        )
        sys.exit(EXIT_NO_EXIFTOOL)
    return exe


def exiftool_version(exe: str) -> str:
    proc = subprocess.run([exe, "-ver"], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def timed(tool: str, files: int, run: Callable[[], None], repeats: int) -> Measurement:
    """One warm-up run, then ``repeats`` timed runs."""
    run()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return Measurement(tool=tool, files=files, seconds=tuple(seconds))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
