"""GIF extension walker, comments and XMP (containers.gif)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers import gif
from deepguard.media.containers._binary import Source

DATA = Path(__file__).resolve().parents[3] / "../shared/data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data absent")

PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta><?xpacket end="w"?>'
)
MAGIC_TRAILER = bytes([1, *range(255, -1, -1)]) + b"\x00"


def make_gif(comment: bytes | None = None, frames: int = 1) -> bytes:
    buf = io.BytesIO()
    images = [Image.new("P", (20, 20), i) for i in range(frames)]
    kwargs: dict[str, object] = {"loop": 0}
    if comment is not None:
        kwargs["comment"] = comment
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], **kwargs)
    return buf.getvalue()


def with_xmp(data: bytes, packet: bytes = PACKET) -> bytes:
    flags = data[10]
    at = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    ext = b"\x21\xff\x0b" + gif.XMP_APP_ID + packet + MAGIC_TRAILER
    return data[:at] + ext + data[at:]


def test_comment_extension_is_found_and_read() -> None:
    data = make_gif(comment=b"made with Midjourney", frames=3)
    src = Source.from_bytes(data)
    exts = list(gif.iter_extensions(src))
    comments = [e for e in exts if e.name == "comment"]
    assert len(comments) == 1
    assert gif.read_subblocks(src, comments[0]) == b"made with Midjourney"


def test_xmp_extension_without_the_magic_trailer() -> None:
    data = with_xmp(make_gif(frames=2))
    src = Source.from_bytes(data)
    (ext,) = [e for e in gif.iter_extensions(src) if e.app_id == gif.XMP_APP_ID]
    assert ext.name == "XMP DataXMP"
    assert gif.read_xmp(src, ext) == PACKET
    # image data after the extension is still walked to the trailer
    assert ext.end < len(data) - 1


def test_read_xmp_ignores_other_applications() -> None:
    src = Source.from_bytes(make_gif(frames=2))
    netscape = [e for e in gif.iter_extensions(src) if e.label == 0xFF]
    assert netscape and netscape[0].name == "NETSCAPE2.0"
    assert gif.read_xmp(src, netscape[0]) is None


def test_xmp_over_the_limit_is_refused() -> None:
    packet = PACKET.replace(b"></x:xmpmeta>", b">" + b" " * 5000 + b"</x:xmpmeta>")
    src = Source.from_bytes(with_xmp(make_gif(), packet), max_blob=1000)
    (ext,) = [e for e in gif.iter_extensions(src) if e.app_id == gif.XMP_APP_ID]
    with pytest.raises(MediaLimitExceeded):
        gif.read_xmp(src, ext)


def test_truncated_gif_is_corrupt(tmp_path: Path) -> None:
    data = make_gif(frames=2)
    path = tmp_path / "cut.gif"
    path.write_bytes(data[: len(data) - 10])
    with Source.open(path) as src, pytest.raises(CorruptMedia) as info:
        list(gif.iter_extensions(src))
    assert "past the end" in str(info.value)
    assert str(info.value).startswith(str(path))


def test_unknown_block_and_bad_signature() -> None:
    data = make_gif()
    flags = data[10]
    at = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    with pytest.raises(CorruptMedia, match="unknown GIF block 0x99"):
        list(gif.iter_extensions(Source.from_bytes(data[:at] + b"\x99" + data[at:])))
    with pytest.raises(CorruptMedia, match="missing signature"):
        list(gif.iter_extensions(Source.from_bytes(b"GIF90a" + data[6:])))


@needs_data
def test_shared_animated_gif_walks_all_frames() -> None:
    with Source.open(DATA / "media/sample1.gif") as src:
        exts = list(gif.iter_extensions(src))
        comments = [gif.read_subblocks(src, e) for e in exts if e.name == "comment"]
    assert sum(e.label == 0xF9 for e in exts) == 90  # one graphic control per frame
    assert comments == [b"GIF converted with https://ezgif.com/webp-to-gif"]
