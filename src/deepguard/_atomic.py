"""Atomic output files: a reader, or a crash, never sees half a file.

Every writer in deepguard writes to a temporary file next to the destination,
flushes it to disk and moves it into place with ``os.replace``. The input file
is never opened for writing unless the caller asked for an in-place edit, in
which case the destination simply is the input path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output", "copy_to_temp", "output_path"]


@contextlib.contextmanager
def atomic_output(dst: Path, *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; move it onto ``dst`` on success.

    The caller writes the whole output to the yielded path. When the ``with``
    block raises, the temporary file is removed and ``dst`` is untouched.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def copy_to_temp(src: Path, tmp: Path) -> None:
    """Copy ``src`` onto ``tmp`` (for writers that edit a copy in place)."""
    shutil.copyfile(src, tmp)


def output_path(src: Path, out: Path | None, in_place: bool) -> Path:
    """Where a writer puts its result: ``out``, or ``src`` itself when asked.

    Raises:
        ValueError: neither or both were given; an in-place edit is never
            a default.
    """
    if (out is None) == (not in_place):
        raise ValueError("give exactly one of out= or in_place=True")
    return src if out is None else out
