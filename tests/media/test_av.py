from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, MediaLimitExceeded, UnsupportedFormat
from deepguard.media.av import iter_audio, iter_frames
from media_factory import write_audio, write_video


def test_frames_at_rate_with_timestamps(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", seconds=2.0, fps=10)
    frames = list(iter_frames(path, limits=Limits(), fps=2.0))
    stamps = [round(f.timestamp, 2) for f in frames]
    assert stamps == [0.0, 0.5, 1.0, 1.5]
    assert frames[0].image.shape == (48, 64, 3)
    assert frames[0].image.dtype == np.uint8
    # Frames differ: the white bar grows over time.
    assert frames[-1].image.mean() > frames[0].image.mean()


def test_every_frame_and_scaling(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "a.mkv", seconds=1.0, fps=10, size=(128, 96), fmt="matroska"
    )
    frames = list(iter_frames(path, limits=Limits(), fps=None, max_side=32))
    assert len(frames) == 10
    assert frames[0].image.shape == (24, 32, 3)


def test_keyframes_only(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", seconds=1.0)
    frames = list(iter_frames(path, limits=Limits(), keyframes_only=True))
    assert frames and all(f.keyframe for f in frames)


def test_audio_windows_are_mono_float32(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", seconds=2.5, rate=44100)
    windows = list(iter_audio(path, limits=Limits(), sample_rate=16000, window_s=1.0))
    assert [w.timestamp for w in windows] == [0.0, 1.0, 2.0]
    assert windows[0].samples.dtype == np.float32
    assert windows[0].samples.shape == (16000,)
    assert 7000 <= windows[-1].samples.size <= 9000  # the short tail
    # A 0.3 amplitude tone survives resampling.
    assert 0.25 < float(np.abs(windows[0].samples).max()) < 0.35


def test_overlapping_windows(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", seconds=2.0, codec="flac")
    windows = list(iter_audio(path, limits=Limits(), window_s=1.0, hop_s=0.5))
    assert [w.timestamp for w in windows[:3]] == [0.0, 0.5, 1.0]


def test_audio_from_video_container(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", seconds=1.0)
    assert sum(w.samples.size for w in iter_audio(path, limits=Limits())) > 12000


def test_duration_limit(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", seconds=2.0)
    with pytest.raises(MediaLimitExceeded) as info:
        list(iter_audio(path, limits=Limits(max_duration_s=1.0)))
    assert info.value.limit == "max_duration_s"


def test_decode_time_limit(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", seconds=2.0)
    with pytest.raises(MediaLimitExceeded) as info:
        list(iter_frames(path, limits=Limits(max_decode_s=1e-9), fps=None))
    assert info.value.limit == "max_decode_s"


def test_truncated_mp4(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", seconds=1.0)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises((CorruptMedia, UnsupportedFormat)) as info:
        list(iter_frames(cut, limits=Limits()))
    assert str(info.value).startswith(str(cut))


def test_no_video_stream(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav")
    with pytest.raises(UnsupportedFormat, match="no video stream"):
        list(iter_frames(path, limits=Limits()))


def test_streaming_does_not_decode_everything(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", seconds=3.0, fps=10)
    frames = iter_frames(path, limits=Limits(), fps=None)
    first = next(frames)
    frames.close()  # the container is closed without decoding the rest
    assert first.timestamp == 0.0
