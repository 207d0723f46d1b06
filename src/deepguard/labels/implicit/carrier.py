"""The interface every implicit-label carrier implements.

A carrier is the code for one file format: it finds every copy of an AIGC
label the format can hold (in all of that format's places, e.g. JPEG's XMP
and EXIF UserComment), writes exactly one copy, and says what the content is
apart from its metadata. Carriers never judge a label; :mod:`..fields` does.

Rules every carrier keeps:

* ``write`` never re-encodes: pixels and samples decode bit-identically;
* ``write`` removes every existing copy (in any of the format's places) before
  adding the new one, so the output holds exactly one label;
* ``write`` writes only to ``dst``, a fresh temporary path chosen by the caller
  (which moves it into place atomically); ``src`` is never modified;
* ``content_digest`` is unchanged by any label write, so a signature over it
  survives a propagator rewriting the label, but changes when the content does;
* malformed structures raise :class:`~deepguard.errors.CorruptMedia` naming the
  file; a metadata blob over the limits raises ``MediaLimitExceeded``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from deepguard.config import Limits
from deepguard.labels.fields import RawLabel
from deepguard.media.probe import MediaKind, ProbeResult

__all__ = ["Carrier", "CarrierRead"]


@dataclass(slots=True)
class CarrierRead:
    """What a carrier found: every label copy, and parts it could not read.

    ``errors`` are one-line descriptions of structures that were damaged but
    did not stop the read (a truncated chunk after the label, say). They make
    an absent label *inconclusive* rather than *not found*.
    """

    copies: list[RawLabel] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Carrier(abc.ABC):
    """One file format's label carrier."""

    name: ClassVar[str]
    """Short name recorded in readings: ``png``, ``jpeg``, ``mp4`` ..."""
    containers: ClassVar[frozenset[str]]
    """Probe container names this carrier handles."""
    kinds: ClassVar[frozenset[MediaKind] | None] = None
    """When set, only these media kinds (ISO BMFF is both HEIF and MP4)."""
    writable: ClassVar[bool] = True

    def handles(self, probe: ProbeResult) -> bool:
        if probe.container not in self.containers:
            return False
        return self.kinds is None or probe.kind in self.kinds

    @abc.abstractmethod
    def read(self, path: Path, limits: Limits) -> CarrierRead:
        """Every label copy in ``path``, in file order."""

    @abc.abstractmethod
    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        """Write ``src`` to ``dst`` carrying exactly one label, ``payload``.

        Raises:
            UnsupportedFormat: this variant cannot take a label without
                re-encoding (the message says why).
            CorruptMedia: ``src`` is malformed.
        """

    @abc.abstractmethod
    def content_digest(self, path: Path, limits: Limits) -> str:
        """Hex SHA-256 of the content, excluding every metadata carrier."""
