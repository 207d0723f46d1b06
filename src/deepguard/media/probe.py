"""Identify a file by its content: magic bytes, never the extension.

Violators rename files to slip past filters (a zip called ``.mp4``, a video
called ``.jpg``), so the kind and MIME type come only from the bytes. The
extension is recorded separately so that a mismatch can itself be reported.
"""

from __future__ import annotations

import enum
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from deepguard.errors import (
    CorruptMedia,
    MediaError,
    MediaLimitExceeded,
    UnsupportedFormat,
)

__all__ = ["MediaKind", "ProbeResult", "probe", "sniff"]

HEADER_BYTES = 4096


class MediaKind(enum.StrEnum):
    """The broad kind of a media item; detectors declare which they support."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the content says the file is."""

    kind: MediaKind
    mime: str
    container: str
    """Short container name: ``jpeg``, ``png``, ``isobmff``, ``matroska`` ..."""


_FTYP_IMAGE = {  # in order of specificity
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
}
_FTYP_AUDIO = {b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"F4A ": "audio/mp4"}
_FTYP_QT = {b"qt  "}


def _sniff_isobmff(head: bytes) -> ProbeResult | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    brands = [major]
    end = min(len(head), size if 16 <= size <= 4096 else 16)
    brands += [head[i : i + 4] for i in range(16, end - 3, 4)]
    # The most specific brand wins (a HEIC file often has major brand mif1);
    # an AVIF/HEIF image sequence is still an image for us.
    for brand, mime in _FTYP_IMAGE.items():
        if brand in brands:
            return ProbeResult(MediaKind.IMAGE, mime, "isobmff")
    if major in _FTYP_AUDIO:
        return ProbeResult(MediaKind.AUDIO, _FTYP_AUDIO[major], "isobmff")
    if major in _FTYP_QT:
        return ProbeResult(MediaKind.VIDEO, "video/quicktime", "isobmff")
    return ProbeResult(MediaKind.VIDEO, "video/mp4", "isobmff")


def _sniff_riff(head: bytes) -> ProbeResult | None:
    if head[:4] not in (b"RIFF", b"RF64") or len(head) < 12:
        return None
    form = head[8:12]
    if form == b"WEBP":
        return ProbeResult(MediaKind.IMAGE, "image/webp", "riff")
    if form == b"WAVE":
        return ProbeResult(MediaKind.AUDIO, "audio/wav", "riff")
    if form in (b"AVI ", b"AVIX"):
        return ProbeResult(MediaKind.VIDEO, "video/x-msvideo", "riff")
    return None


def _sniff_ebml(head: bytes) -> ProbeResult | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    if b"webm" in head[:64]:
        return ProbeResult(MediaKind.VIDEO, "video/webm", "matroska")
    return ProbeResult(MediaKind.VIDEO, "video/x-matroska", "matroska")


def _sniff_ogg(head: bytes) -> ProbeResult | None:
    if head[:4] != b"OggS":
        return None
    if b"\x80theora" in head[:256]:
        return ProbeResult(MediaKind.VIDEO, "video/ogg", "ogg")
    if b"OpusHead" in head[:256]:
        return ProbeResult(MediaKind.AUDIO, "audio/opus", "ogg")
    return ProbeResult(MediaKind.AUDIO, "audio/ogg", "ogg")


def _is_mpeg_audio_frame(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0x3
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


_OOXML = "application/vnd.openxmlformats-officedocument."


def _sniff_zip(head: bytes) -> ProbeResult | None:
    if head[:4] != b"PK\x03\x04":
        return None
    if b"[Content_Types].xml" in head or b"docProps/" in head or b"_rels/" in head:
        if b"word/" in head:
            mime = _OOXML + "wordprocessingml.document"
        elif b"ppt/" in head:
            mime = _OOXML + "presentationml.presentation"
        elif b"xl/" in head:
            mime = _OOXML + "spreadsheetml.sheet"
        else:
            mime = "application/vnd.openxmlformats-package"
        return ProbeResult(MediaKind.DOCUMENT, mime, "zip")
    return None


def _sniff_text(head: bytes) -> ProbeResult | None:
    if not head or b"\x00" in head:
        return None
    sample = head
    # Cut a possibly split multi-byte character at the end of the sample.
    for cut in range(4):
        try:
            text = sample[: len(sample) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if printable < 0.95 * max(1, len(text)):
        return None
    if (
        text.startswith("---\n")
        or text.startswith("---\r\n")
        or text.lstrip().startswith("# ")
    ):
        return ProbeResult(MediaKind.TEXT, "text/markdown", "text")
    return ProbeResult(MediaKind.TEXT, "text/plain", "text")


_SIMPLE: tuple[tuple[bytes, ProbeResult], ...] = (
    (b"\xff\xd8\xff", ProbeResult(MediaKind.IMAGE, "image/jpeg", "jpeg")),
    (b"\x89PNG\r\n\x1a\n", ProbeResult(MediaKind.IMAGE, "image/png", "png")),
    (b"GIF87a", ProbeResult(MediaKind.IMAGE, "image/gif", "gif")),
    (b"GIF89a", ProbeResult(MediaKind.IMAGE, "image/gif", "gif")),
    (b"II*\x00", ProbeResult(MediaKind.IMAGE, "image/tiff", "tiff")),
    (b"MM\x00*", ProbeResult(MediaKind.IMAGE, "image/tiff", "tiff")),
    (b"II+\x00", ProbeResult(MediaKind.IMAGE, "image/tiff", "tiff")),  # BigTIFF
    (b"MM\x00+", ProbeResult(MediaKind.IMAGE, "image/tiff", "tiff")),
    (b"BM", ProbeResult(MediaKind.IMAGE, "image/bmp", "bmp")),
    (
        b"\x00\x00\x00\x0cjXL \r\n\x87\n",
        ProbeResult(MediaKind.IMAGE, "image/jxl", "isobmff"),
    ),
    (b"\xff\x0a", ProbeResult(MediaKind.IMAGE, "image/jxl", "jxl")),
    (b"FLV\x01", ProbeResult(MediaKind.VIDEO, "video/x-flv", "flv")),
    (b"fLaC", ProbeResult(MediaKind.AUDIO, "audio/flac", "flac")),
    (b"ID3", ProbeResult(MediaKind.AUDIO, "audio/mpeg", "mpeg")),
    (b"%PDF-", ProbeResult(MediaKind.DOCUMENT, "application/pdf", "pdf")),
    (b"\x47", ProbeResult(MediaKind.VIDEO, "video/mp2t", "mpegts")),
)


def sniff(head: bytes) -> ProbeResult | None:
    """Identify content from its first bytes; ``None`` when nothing matches."""
    for sniffer in (_sniff_isobmff, _sniff_riff, _sniff_ebml, _sniff_ogg, _sniff_zip):
        found = sniffer(head)
        if found is not None:
            return found
    for magic, result in _SIMPLE:
        if result.container == "mpegts":
            # A bare 0x47 is too weak: require sync bytes every 188 bytes.
            if len(head) >= 188 * 3 and all(head[i] == 0x47 for i in (0, 188, 376)):
                return result
            continue
        if result.container == "bmp" and not (
            head[:2] == b"BM"
            and len(head) >= 26
            and head[14] in (12, 40, 52, 56, 108, 124)
        ):
            continue
        if head.startswith(magic):
            return result
    if _is_mpeg_audio_frame(head):
        return ProbeResult(MediaKind.AUDIO, "audio/mpeg", "mpeg")
    if head[:4] == b"\x00\x00\x00\x14" or head[4:8] in (
        b"moov",
        b"mdat",
        b"wide",
        b"free",
    ):
        return ProbeResult(MediaKind.VIDEO, "video/quicktime", "isobmff")
    return _sniff_text(head)


def _describe_unknown(head: bytes) -> str:
    if head[:4] == b"PK\x03\x04":
        return "a zip archive, not a media file"
    if head[:2] == b"\x1f\x8b":
        return "a gzip archive, not a media file"
    if head[:4] == b"\x7fELF" or head[:2] == b"MZ":
        return "an executable, not a media file"
    return f"unrecognised content (first bytes {head[:8].hex()})"


def probe(path: Path, *, max_file_bytes: int | None = None) -> ProbeResult:
    """Identify ``path`` by content.

    Raises:
        MediaError: the path is not a regular readable file.
        MediaLimitExceeded: the file is larger than ``max_file_bytes``.
        CorruptMedia: the file is empty.
        UnsupportedFormat: the content is not a format deepguard handles.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MediaError("no such file", path=path) from None
    except OSError as exc:
        raise MediaError(f"cannot stat: {exc.strerror or exc}", path=path) from exc
    if stat.S_ISDIR(st.st_mode):
        raise MediaError("is a directory, not a file", path=path)
    if not stat.S_ISREG(st.st_mode):
        raise MediaError("not a regular file", path=path)
    if st.st_size == 0:
        raise CorruptMedia("empty file (0 bytes)", path=path)
    if max_file_bytes is not None and st.st_size > max_file_bytes:
        msg = (
            f"file is {st.st_size} bytes, over the max_file_bytes limit of "
            f"{max_file_bytes}"
        )
        raise MediaLimitExceeded(
            msg,
            path=path,
            limit="max_file_bytes",
            value=st.st_size,
            maximum=max_file_bytes,
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(HEADER_BYTES)
    except PermissionError:
        raise MediaError("permission denied", path=path) from None
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    found = sniff(head)
    if found is None:
        raise UnsupportedFormat(_describe_unknown(head), path=path)
    return found
