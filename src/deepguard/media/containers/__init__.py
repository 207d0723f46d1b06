"""Structural parsers for the containers metadata lives in.

One module per container grammar: ``jpeg`` (marker segments), ``png``
(chunks and text chunks), ``riff`` (WebP, WAV, AVI), ``isobmff`` (MP4, MOV,
HEIF, AVIF boxes), ``gif`` (extension blocks), ``tiff`` (IFDs, also EXIF
everywhere) and ``xmp`` (finding and parsing packets). They only read: the
provenance detector uses them to find generator traces, and the GB 45438
label carriers build their writers on the same walkers.

Shared rules (see :mod:`._binary`): walkers are iterators over headers, so a
caller reads only the payloads it wants; every length is checked against
the file size and every metadata blob against ``max_metadata_bytes`` before
it is read; pixel and sample data are skipped by seeking; and any parsing
failure is a :class:`deepguard.errors.CorruptMedia` whose one-line message
names the file and the broken structure.
"""

from __future__ import annotations

from deepguard.media.containers._binary import Source

__all__ = ["Source"]
