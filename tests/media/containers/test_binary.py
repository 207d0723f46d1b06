"""Bounded reads, bounded inflate and error translation (containers._binary)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from deepguard.errors import CorruptMedia, MediaError, MediaLimitExceeded
from deepguard.media.containers._binary import (
    Source,
    inflate,
    translate_errors,
    u16be,
    u16le,
    u32be,
    u32le,
    u64be,
    u64le,
)


def test_integer_helpers_read_both_byte_orders() -> None:
    data = bytes(range(1, 9))
    assert u16be(data) == 0x0102
    assert u16le(data) == 0x0201
    assert u32be(data, 4) == 0x05060708
    assert u32le(data, 4) == 0x08070605
    assert u64be(data) == 0x0102030405060708
    assert u64le(data) == 0x0807060504030201


def test_read_inside_the_view(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    with Source.open(path) as src:
        assert src.size == 10
        assert src.read(2, 3, "thing") == b"234"
        assert src.read_upto(8, 100) == b"89"
        assert src.read_upto(10, 5) == b""


def test_read_past_the_end_names_file_and_structure(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    with Source.open(path) as src, pytest.raises(CorruptMedia) as info:
        src.read(8, 4, "widget header")
    message = str(info.value)
    assert message.startswith(str(path))
    assert "widget header at offset 8 claims 4 bytes but only 2 remain" in message
    assert "\n" not in message


def test_negative_spans_are_corrupt() -> None:
    src = Source.from_bytes(b"abc")
    with pytest.raises(CorruptMedia):
        src.check_span(-1, 1, "x")
    with pytest.raises(CorruptMedia):
        src.check_span(0, -1, "x")


def test_read_blob_enforces_the_metadata_limit() -> None:
    src = Source.from_bytes(b"x" * 100, max_blob=10, path="mem.bin")
    assert src.read_blob(0, 10, "blob") == b"x" * 10
    with pytest.raises(MediaLimitExceeded) as info:
        src.read_blob(0, 11, "text chunk")
    assert info.value.limit == "max_metadata_bytes"
    assert info.value.value == 11
    assert "max_metadata_bytes limit of 10" in str(info.value)


def test_embedded_view_reports_absolute_offsets() -> None:
    src = Source.from_bytes(b"abcd", base=1000)
    assert src.absolute(3) == 1003
    with pytest.raises(CorruptMedia, match="offset 1002"):
        src.read(2, 5, "field")


def test_open_missing_file_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot open"), Source.open(tmp_path / "no"):
        pass


def test_inflate_round_trip() -> None:
    data = b"hello " * 100
    assert inflate(zlib.compress(data), max_out=1000, what="z") == data


def test_inflate_stops_a_bomb_at_the_limit() -> None:
    bomb = zlib.compress(b"\x00" * (50 * 1024 * 1024), 9)
    assert len(bomb) < 100_000
    with pytest.raises(MediaLimitExceeded, match="expands to more than"):
        inflate(bomb, max_out=1024 * 1024, what="zTXt chunk")


def test_inflate_rejects_garbage_and_truncation() -> None:
    with pytest.raises(CorruptMedia, match="invalid compressed data"):
        inflate(b"not zlib at all", max_out=100, what="zTXt chunk")
    truncated = zlib.compress(b"abcdef" * 50)[:-6]
    with pytest.raises(CorruptMedia, match="truncated"):
        inflate(truncated, max_out=1000, what="zTXt chunk")


@pytest.mark.parametrize(
    "exc",
    [struct.error("bad"), IndexError("idx"), ValueError("val"), zlib.error("z")],
)
def test_translate_errors_maps_parser_errors(exc: Exception) -> None:
    with (
        pytest.raises(CorruptMedia, match="broken PNG chunk") as info,
        translate_errors("/x/f.png", "PNG chunk"),
    ):
        raise exc
    assert info.value.path == "/x/f.png"
    assert info.value.__cause__ is exc


def test_translate_errors_lets_other_errors_through() -> None:
    with pytest.raises(KeyError), translate_errors(None, "thing"):
        raise KeyError("k")
