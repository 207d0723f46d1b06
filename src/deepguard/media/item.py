"""One input as detectors see it: identity, probed kind, and lazily read info.

Detectors receive a ``MediaItem`` rather than a path so that the expensive
work (hashing, probing, opening containers) happens once per file however many
detectors run, and so that every detector obeys the same limits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepguard.config import Limits
from deepguard.errors import MediaError
from deepguard.media.probe import MediaKind, ProbeResult, probe

if TYPE_CHECKING:
    from deepguard.accounts import AccountRef

__all__ = ["MediaInfo", "MediaItem", "sha256_file"]

_CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed in 1 MiB chunks.

    Raises:
        MediaError: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    return digest.hexdigest()


@dataclass(slots=True)
class MediaInfo:
    """Technical facts read from headers, without decoding content."""

    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    frame_rate: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    codecs: list[str] = field(default_factory=list)
    format_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; omits unknown values."""
        out: dict[str, Any] = {
            "width": self.width,
            "height": self.height,
            "duration_s": self.duration_s,
            "frame_rate": self.frame_rate,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "codecs": list(self.codecs),
            "format_name": self.format_name,
        }
        out.update(self.extra)
        return {k: v for k, v in out.items() if v not in (None, [])}


@dataclass(slots=True)
class MediaItem:
    """A file identified by content, with its hash and limits."""

    path: Path
    probe: ProbeResult
    size: int
    sha256: str
    limits: Limits = field(default_factory=Limits)
    info: MediaInfo = field(default_factory=MediaInfo)
    uploader: AccountRef | None = None
    """The account that uploaded it, when the platform says (``scan --account``)."""

    @property
    def kind(self) -> MediaKind:
        return self.probe.kind

    @property
    def mime(self) -> str:
        return self.probe.mime

    @classmethod
    def open(cls, path: Path, *, limits: Limits | None = None) -> MediaItem:
        """Probe and hash ``path``; header info is filled by :func:`read_info`.

        Raises:
            MediaError: the file is missing, unreadable, empty, too large or of an
                unsupported format.
        """
        limits = limits or Limits()
        probed = probe(path, max_file_bytes=limits.max_file_bytes)
        size = path.stat().st_size
        return cls(
            path=path, probe=probed, size=size, sha256=sha256_file(path), limits=limits
        )
