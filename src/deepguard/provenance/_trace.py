"""The records readers produce, before any judgement is made about them.

Readers (one per container) only say "this field holds this value, here";
:mod:`._classify` decides what a value means. Keeping the two apart lets a
new container reuse every rule (AIGC labels, generator names, IPTC source
types) by producing traces, and lets a rule change without touching parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from deepguard.errors import DeepguardError
from deepguard.media.containers import Source
from deepguard.media.item import MediaItem

__all__ = [
    "C2paHint",
    "Family",
    "ReadContext",
    "ReadFailure",
    "Reader",
    "Trace",
    "where",
]

Family = Literal["xmp", "png", "exif", "tag"]
"""Where a value came from, which decides the rules that apply to it:
``xmp`` properties, ``png`` text chunks, ``exif``/TIFF tags, and ``tag`` for
every other container tag (MP4, Matroska, ID3, Vorbis, RIFF INFO ...)."""


@dataclass(frozen=True, slots=True)
class Trace:
    """One metadata value as found in the file.

    ``field`` is the qualified name reported in findings, e.g.
    ``exif:Software``, ``png:parameters``, ``Iptc4xmpExt:DigitalSourceType``,
    ``mp4:encoder``, ``stream0:handler_name``, ``id3:TXXX:AIGC``.
    ``carrier`` names the structure that holds it (``png:tEXt``,
    ``jpeg:APP1/xmp``) and ``offset`` its byte offset when known.
    """

    family: Family
    field: str
    value: str
    carrier: str
    offset: int | None = None

    @property
    def name(self) -> str:
        """The field's own name without prefixes: ``Software``, ``AIGC``."""
        return self.field.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


@dataclass(frozen=True, slots=True)
class ReadFailure:
    """A part of the file that could not be read; the rest still counts."""

    carrier: str
    error: DeepguardError
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class C2paHint:
    """The walk saw a C2PA manifest store (or an XMP pointer to one) here.

    For containers whose walker sees every place a manifest can live, the
    detector asks c2pa-rs only when there is a hint: c2pa-rs re-walks the
    whole file, which costs more than everything else for a GIF or PNG.
    """

    carrier: str
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class ReadContext:
    """What a reader gets: the item (path, probe, limits) and an open view."""

    item: MediaItem
    src: Source


Reader = Callable[[ReadContext], Iterator[Trace | ReadFailure | C2paHint]]
"""A reader yields traces in file order and may raise ``DeepguardError``
when its structure breaks; what it yielded before that is kept."""


def where(carrier: str, offset: int | None) -> dict[str, Any]:
    """The ``Finding.where`` for a value held by ``carrier`` at ``offset``."""
    return {"carrier": carrier, "offset": offset}
