"""Labels in an EXIF UserComment (0x9286): finding them and blanking them.

Some generators write the GB 45438 JSON into the UserComment of the EXIF
sub-IFD instead of XMP. The same TIFF structure sits in a TIFF file itself,
in JPEG APP1, in the WebP ``EXIF`` chunk, in PNG ``eXIf`` and in HEIF
``Exif`` items, so every image carrier reads such copies, and its writer
neutralises them in place (an empty comment of the same length, so no EXIF
offset moves) to leave exactly one label. Keeping the test for "this comment
is a label" and the blank in one place means every format agrees on both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from deepguard.errors import CorruptMedia
from deepguard.labels.fields import RawLabel
from deepguard.media.containers import tiff
from deepguard.media.containers._binary import Source, translate_errors

__all__ = [
    "ExifComment",
    "comment_blanks",
    "comment_copies",
    "exif_blanks",
    "exif_copies",
    "looks_like_label",
    "neutral_comment",
    "user_comments",
]

_EXIF_IFD: Final = 0x8769
_USER_COMMENT: Final = 0x9286


@dataclass(frozen=True, slots=True)
class ExifComment:
    """An EXIF UserComment value: where its bytes are and what it says."""

    offset: int
    """Absolute file offset of the value bytes."""
    size: int
    text: str


def looks_like_label(text: str) -> bool:
    """Whether a free-text value holds an AIGC label (a JSON object naming it)."""
    body = text.strip().strip("\x00").lstrip("\ufeff").strip()
    return body.startswith("{") and any(
        key in body for key in ('"AIGC"', '"ContentProducer"', '"ProduceID"')
    )


def neutral_comment(size: int) -> bytes:
    """An empty UserComment of ``size`` bytes: the ASCII code, then NULs."""
    return (b"ASCII\x00\x00\x00" + bytes(max(0, size - 8)))[:size]


def user_comments(view: Source) -> list[ExifComment]:
    """The UserComment values of the EXIF sub-IFD of the TIFF structure ``view``.

    Raises:
        CorruptMedia: the header or an IFD lies outside the view.
        MediaLimitExceeded: a comment exceeds ``max_metadata_bytes``.
    """
    header = tiff.read_header(view)
    found: list[ExifComment] = []
    with translate_errors(view.path, "TIFF IFD"):
        ifd0 = list(tiff.iter_entries(view, header, header.first_ifd))
        for entry in ifd0:
            if entry.tag != _EXIF_IFD or entry.count != 1:
                continue
            exif_at = _read_uint(view, header, entry)
            if exif_at == header.first_ifd:
                continue
            for sub in tiff.iter_entries(view, header, exif_at):
                if sub.tag == _USER_COMMENT:
                    what = "EXIF UserComment"
                    raw = view.read_blob(sub.value_offset, sub.size, what)
                    text = tiff.decode_user_comment(raw, header.order)
                    at = view.absolute(sub.value_offset)
                    found.append(ExifComment(at, sub.size, text))
    return found


def _read_uint(src: Source, header: tiff.Header, entry: tiff.Entry) -> int:
    raw = src.read(entry.value_offset, entry.size, "TIFF IFD pointer")
    return int.from_bytes(raw, "little" if header.order == "<" else "big")


def comment_copies(
    carrier: str, comments: Iterable[ExifComment], *, where: str = "EXIF", base: int = 0
) -> list[RawLabel]:
    """The comments that hold a label, as copies located ``<where> UserComment``.

    ``base`` is added to each comment's offset, for views whose offsets are
    relative to the block rather than to the file.
    """
    return [
        RawLabel(carrier, f"{where} UserComment", c.text, base + c.offset)
        for c in comments
        if looks_like_label(c.text)
    ]


def exif_copies(
    carrier: str, view: Source, errors: list[str], *, where: str = "EXIF", base: int = 0
) -> list[RawLabel]:
    """The label copies in the UserComments of the EXIF structure ``view``.

    A damaged EXIF block is recorded in ``errors`` (prefixed ``where``) rather
    than raised: the format's main label place can still be read, and the
    damage makes a missing label inconclusive instead of absent.
    """
    try:
        comments = user_comments(view)
    except CorruptMedia as exc:
        errors.append(f"{where}: {exc.msg}")
        return []
    return comment_copies(carrier, comments, where=where, base=base)


def comment_blanks(comments: Iterable[ExifComment]) -> dict[int, bytes]:
    """Offset -> same-length empty comment, for each comment holding a label."""
    return {
        c.offset: neutral_comment(c.size) for c in comments if looks_like_label(c.text)
    }


def exif_blanks(view: Source) -> dict[int, bytes]:
    """:func:`comment_blanks` for the EXIF structure ``view``.

    An EXIF block that cannot be parsed gets no blanks and is copied as it
    is: no reader can find a label in it either.
    """
    try:
        comments = user_comments(view)
    except CorruptMedia:
        return {}
    return comment_blanks(comments)
