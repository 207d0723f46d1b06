"""FLAC, Ogg Vorbis, Opus and Ogg FLAC carrier: the Vorbis comment ``AIGC=``.

mutagen reads and writes the comment block: FLAC's ``VORBIS_COMMENT``
metadata block, the Vorbis comment header, ``OpusTags``. Before mutagen
loads anything the metadata is measured (every FLAC metadata block; the Ogg
pages that carry the comment packet), so a hostile file cannot make it
allocate more than ``max_metadata_bytes``. Writing edits a copy: other
comments stay, every ``AIGC`` comment (any letter case) goes, one is added.
Audio packets are unchanged; in Ogg, mutagen renumbers the pages after the
comment header, which FFmpeg's demuxer does not see in the packets.

Only single-stream Ogg audio is handled: a Theora video or a multiplexed
Ogg file has one comment header per stream, and labelling one of them would
not make a file-level label. In a chained Ogg file (streams one after the
other) only the first stream's comments are read and written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Final

import mutagen
import mutagen.flac
import mutagen.oggflac
import mutagen.oggopus
import mutagen.oggspeex
import mutagen.oggvorbis

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import av_packet_digest
from deepguard.labels.implicit._mutagen import MUTAGEN_ERRORS, editing_copy
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers._binary import Source, u32le

__all__ = ["VorbisCarrier"]

_KEY: Final = "AIGC"
_OGG_CODECS: Final[dict[bytes, tuple[str, Any]]] = {
    b"\x01vorbis": ("Vorbis comment", mutagen.oggvorbis.OggVorbis),
    b"OpusHead": ("OpusTags", mutagen.oggopus.OggOpus),
    b"\x7fFLAC": ("Ogg FLAC VORBIS_COMMENT", mutagen.oggflac.OggFLAC),
    b"Speex   ": ("Speex comment", mutagen.oggspeex.OggSpeex),
}
"""First bytes of a stream's first packet -> where the comment is, mutagen class."""
_OGG_VIDEO: Final = (b"\x80theora", b"\x80daala", b"fishead")
_FLAC_BLOCK_HEADER: Final = 4
_OGG_PAGE_HEADER: Final = 27


# --- measuring before mutagen loads ---------------------------------------------------


def _check_flac(src: Source) -> None:
    """Walk the FLAC metadata block headers; refuse an oversized block.

    Raises:
        CorruptMedia: a block runs past the end of the file.
        MediaLimitExceeded: a block is larger than ``max_metadata_bytes``.
    """
    pos = 4 if src.read_upto(0, 4) == b"fLaC" else 0
    if pos == 0:
        raise src.corrupt("not a FLAC file: missing fLaC marker")
    while True:
        head = src.read(pos, _FLAC_BLOCK_HEADER, "FLAC metadata block header")
        size = int.from_bytes(head[1:4], "big")
        src.check_span(pos + _FLAC_BLOCK_HEADER, size, "FLAC metadata block")
        src.check_blob_size(size, f"FLAC metadata block at offset {pos}")
        pos += _FLAC_BLOCK_HEADER + size
        if head[0] & 0x80:  # last-metadata-block flag
            return


def _ogg_page(src: Source, pos: int) -> tuple[int, int, list[int], int]:
    """(flags, serial, lacing values, data offset) of the page at ``pos``.

    Raises:
        CorruptMedia: the page header is missing or truncated.
    """
    head = src.read(pos, _OGG_PAGE_HEADER, "Ogg page header")
    if head[:4] != b"OggS":
        raise src.corrupt(f"no Ogg page at offset {pos}")
    count = head[26]
    lacing = list(src.read(pos + _OGG_PAGE_HEADER, count, "Ogg segment table"))
    data = pos + _OGG_PAGE_HEADER + count
    src.check_span(data, sum(lacing), "Ogg page")
    return head[5], u32le(head, 14), lacing, data


def _ogg_codec(src: Source) -> tuple[str, Any]:
    """The one audio stream's comment location and mutagen class.

    Also measures the comment packet (the stream's second packet), so that
    mutagen never reads more than ``max_metadata_bytes`` of it.

    Raises:
        CorruptMedia: the pages are malformed.
        UnsupportedFormat: video, several streams, or an unknown codec.
        MediaLimitExceeded: the comment packet is too large.
    """
    _, serial, lacing, data = _ogg_page(src, 0)
    first = src.read_upto(data, 8)
    pos = data + sum(lacing)
    if pos < src.size and src.read_upto(pos, 4) == b"OggS":
        next_flags = _ogg_page(src, pos)[0]
        if next_flags & 0x02:  # a second beginning-of-stream page
            msg = "multiplexed Ogg (several streams) cannot carry one file label"
            raise UnsupportedFormat(msg, path=src.path)
    if first.startswith(_OGG_VIDEO):
        msg = "Ogg video (Theora) is not supported for labelling"
        raise UnsupportedFormat(msg, path=src.path)
    for magic, found in _OGG_CODECS.items():
        if first.startswith(magic):
            _measure_comment(src, serial)
            return found
    msg = f"unknown Ogg codec (first packet starts {first[:8].hex()})"
    raise UnsupportedFormat(msg, path=src.path)


def _measure_comment(src: Source, serial: int) -> None:
    """Raise if the stream's second packet is over ``max_metadata_bytes``."""
    pos = 0
    packet = 0
    size = 0
    while pos < src.size and packet < 2:
        _, page_serial, lacing, data = _ogg_page(src, pos)
        if page_serial == serial:
            for value in lacing:
                if packet == 1:
                    size += value
                    src.check_blob_size(size, "Ogg comment packet")
                if value < 255:
                    packet += 1
                    if packet == 2:
                        return
        pos = data + sum(lacing)


# --- the carrier ----------------------------------------------------------------------


class VorbisCarrier(Carrier):
    """FLAC, and Ogg Vorbis, Opus, FLAC and Speex (one audio stream)."""

    name: ClassVar[str] = "vorbis"
    containers: ClassVar[frozenset[str]] = frozenset({"flac", "ogg"})

    def _open(self, path: Path, limits: Limits) -> tuple[str, Any]:
        """Measure ``path`` and pick its comment location and mutagen class."""
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            if src.read_upto(0, 4) == b"fLaC":
                _check_flac(src)
                return "FLAC VORBIS_COMMENT", mutagen.flac.FLAC
            return _ogg_codec(src)

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        where, kind = self._open(path, limits)
        found = CarrierRead()
        try:
            audio = kind(str(path))
        except MUTAGEN_ERRORS as exc:
            raise CorruptMedia(f"cannot read the {where}: {exc}", path=path) from exc
        for key, value in list(audio.tags or []):
            if str(key).casefold() == _KEY.casefold():
                found.copies.append(RawLabel(self.name, f"{where} {key}", str(value)))
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        where, kind = self._open(src, limits)
        with editing_copy(src, dst, where):
            audio = kind(str(dst))
            if audio.tags is None:
                audio.add_tags()
            if _KEY in audio.tags:  # matches any letter case
                del audio.tags[_KEY]  # deletes every letter case
            audio.tags[_KEY] = [payload]
            audio.save()

    def content_digest(self, path: Path, limits: Limits) -> str:
        return av_packet_digest(path, limits)
