from __future__ import annotations

from pathlib import Path

import pytest

from deepguard.config import Limits
from deepguard.errors import CorruptMedia
from deepguard.media.info import read_info
from deepguard.media.item import MediaItem, sha256_file
from media_factory import write_audio, write_empty_video, write_image, write_video


def test_image_info(tmp_path: Path) -> None:
    item = MediaItem.open(write_image(tmp_path / "a.webp", "WEBP", size=(40, 30)))
    info = read_info(item)
    assert (info.width, info.height, info.format_name) == (40, 30, "WEBP")
    assert item.sha256 == sha256_file(item.path)
    assert item.size == item.path.stat().st_size


def test_video_info(tmp_path: Path) -> None:
    item = MediaItem.open(write_video(tmp_path / "a.mp4", seconds=1.0, fps=10))
    info = read_info(item)
    assert (info.width, info.height) == (64, 48)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.frame_rate == pytest.approx(10.0)
    assert "video:h264" in info.codecs and "audio:aac" in info.codecs
    assert info.to_dict()["width"] == 64


def test_audio_info(tmp_path: Path) -> None:
    item = MediaItem.open(write_audio(tmp_path / "a.mp3", codec="mp3", seconds=1.0))
    info = read_info(item)
    assert info.sample_rate == 16000
    assert info.channels == 1


def test_zero_second_video_is_rejected(tmp_path: Path) -> None:
    item = MediaItem.open(write_empty_video(tmp_path / "empty.mp4"))
    with pytest.raises(CorruptMedia) as info:
        read_info(item)
    assert str(info.value) == f"{item.path}: no video stream in the container"


def test_limits_travel_with_the_item(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.png", "PNG", size=(100, 100))
    item = MediaItem.open(path, limits=Limits(max_pixels=100))
    with pytest.raises(Exception, match="max_pixels"):
        read_info(item)
