"""What the mutagen-based carriers (MP3, Vorbis comments) share.

mutagen does not wrap every failure on a malformed tag in its own exception
type, and it edits files in place, so both carriers write by copying the
source to the output and letting mutagen edit the copy. The error handling
around that is the same for both: an I/O failure is a ``MediaError``, any
other failure means the tag is malformed.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import mutagen

from deepguard._atomic import copy_to_temp
from deepguard.errors import CorruptMedia, MediaError

__all__ = ["MUTAGEN_ERRORS", "editing_copy"]

MUTAGEN_ERRORS: Final = (
    mutagen.MutagenError,
    ValueError,
    EOFError,
    OSError,
    IndexError,
    KeyError,
    OverflowError,
    struct.error,
)
"""What mutagen raises on malformed tags (it does not wrap them all)."""


@contextlib.contextmanager
def editing_copy(src: Path, dst: Path, what: str) -> Iterator[None]:
    """Copy ``src`` to ``dst`` for mutagen to edit within the ``with`` block.

    ``what`` names the tag in the error message (``ID3v2 tag``).

    Raises:
        MediaError: the copy cannot be written.
        CorruptMedia: mutagen failed on the tag.
    """
    try:
        copy_to_temp(src, dst)
        yield
    except OSError as exc:
        msg = f"cannot write the labelled copy: {exc.strerror or exc}"
        raise MediaError(msg, path=src) from exc
    except MUTAGEN_ERRORS as exc:
        raise CorruptMedia(f"cannot write the {what}: {exc}", path=src) from exc
