from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from deepguard.errors import (
    CorruptMedia,
    MediaError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.media.probe import MediaKind, probe, sniff
from media_factory import image_bytes, write_audio, write_video


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("TIFF", "image/tiff"),
        ("BMP", "image/bmp"),
    ],
)
def test_images_by_content(tmp_path: Path, fmt: str, mime: str) -> None:
    # The extension lies on purpose: probing must ignore it.
    path = tmp_path / "picture.txt"
    path.write_bytes(image_bytes(fmt))
    found = probe(path)
    assert (found.kind, found.mime) == (MediaKind.IMAGE, mime)


@pytest.mark.parametrize(
    ("name", "kwargs", "kind", "mime"),
    [
        ("a.mp4", {"fmt": "mp4"}, MediaKind.VIDEO, "video/mp4"),
        ("a.mkv", {"fmt": "matroska"}, MediaKind.VIDEO, "video/x-matroska"),
        (
            "a.webm",
            {"fmt": "webm", "codec": "libvpx", "audio": False},
            MediaKind.VIDEO,
            "video/webm",
        ),
        ("a.avi", {"fmt": "avi", "audio": False}, MediaKind.VIDEO, "video/x-msvideo"),
        ("a.flv", {"fmt": "flv", "audio": False}, MediaKind.VIDEO, "video/x-flv"),
    ],
)
def test_video_containers(
    tmp_path: Path, name: str, kwargs: dict[str, object], kind: MediaKind, mime: str
) -> None:
    path = write_video(tmp_path / name, seconds=0.3, **kwargs)  # type: ignore[arg-type]
    renamed = path.rename(tmp_path / "clip.jpg")
    found = probe(renamed)
    assert (found.kind, found.mime) == (kind, mime)


@pytest.mark.parametrize(
    ("codec", "fmt", "mime"),
    [
        ("pcm_s16le", "wav", "audio/wav"),
        ("mp3", "mp3", "audio/mpeg"),
        ("flac", "flac", "audio/flac"),
        ("libopus", "ogg", "audio/opus"),
        ("flac", "ogg", "audio/ogg"),
        ("aac", "ipod", "audio/mp4"),
    ],
)
def test_audio(tmp_path: Path, codec: str, fmt: str, mime: str) -> None:
    rate = 48000 if codec == "libopus" else 16000
    path = write_audio(
        tmp_path / "sound.bin", codec=codec, fmt=fmt, rate=rate, seconds=0.3
    )
    found = probe(path)
    assert (found.kind, found.mime) == (MediaKind.AUDIO, mime)


def test_text_and_markdown(tmp_path: Path) -> None:
    plain = tmp_path / "a.png"
    plain.write_text("本内容由AI生成\nhello\n", encoding="utf-8")
    assert probe(plain).mime == "text/plain"
    md = tmp_path / "b"
    md.write_text("---\ntitle: x\n---\n# Heading\n", encoding="utf-8")
    assert probe(md).mime == "text/markdown"


def test_pdf_and_docx(tmp_path: Path) -> None:
    pdf = tmp_path / "a.bin"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    assert probe(pdf).kind is MediaKind.DOCUMENT
    docx = tmp_path / "a.mp4"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    found = probe(docx)
    assert found.kind is MediaKind.DOCUMENT
    assert "wordprocessingml" in found.mime


def test_zip_renamed_mp4_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "movie.mp4"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("payload.bin", b"\x00" * 100)
    with pytest.raises(UnsupportedFormat) as info:
        probe(path)
    assert str(info.value) == f"{path}: a zip archive, not a media file"


def test_empty_directory_missing_and_binary(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(CorruptMedia, match="empty file"):
        probe(empty)
    with pytest.raises(MediaError, match="is a directory"):
        probe(tmp_path)
    with pytest.raises(MediaError, match="no such file"):
        probe(tmp_path / "missing.png")
    junk = tmp_path / "junk.png"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnsupportedFormat, match="unrecognised content"):
        probe(junk)


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(image_bytes("PNG"))
    with pytest.raises(MediaLimitExceeded) as info:
        probe(path, max_file_bytes=10)
    assert info.value.limit == "max_file_bytes"
    assert "max_file_bytes" in str(info.value)


def test_sniff_rejects_weak_magic() -> None:
    assert sniff(b"BM" + b"\x00" * 30) is None  # "BM" alone is not a bitmap
    assert sniff(b"\x47" + b"\x00" * 600) is None  # one sync byte is not MPEG-TS
    assert sniff(b"") is None


def test_shared_media_kinds(shared_data: Path) -> None:
    expected = {
        "IMG_0003.jpg": "image/jpeg",
        "TUSCANY.TIF": "image/tiff",
        "sample1.avif": "image/avif",
        "sample1.heic": "image/heic",
        "sample1.heif": "image/heic",  # mif1 major brand, HEVC-coded
        "sample1.webp": "image/webp",
        "sample1.gif": "image/gif",
        "sample1.png": "image/png",
        "video1.mp4": "video/mp4",
        "test.avi": "video/x-msvideo",
        "sample1.m4a": "audio/mp4",
        "sample1.mp3": "audio/mpeg",
        "pdf-file.pdf": "application/pdf",
    }
    for name, mime in expected.items():
        assert probe(shared_data / "media" / name).mime == mime, name
