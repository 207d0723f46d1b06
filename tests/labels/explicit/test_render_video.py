"""Burning an explicit label into a video's opening frames."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.explicit.render_image import (
    InvalidLabelStyle,
    LabelStyle,
    label_overlay,
)
from deepguard.labels.explicit.render_video import VideoLabelStyle, render_video_file
from media_factory import gradient, write_audio, write_video

SIZE = (320, 240)


def _packets(path: Path, kind: str) -> list[tuple[bytes, int | None, int | None]]:
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [(bytes(p), p.pts, p.dts) for p in container.demux(stream) if p.size > 0]


def _frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [
            (float(f.time), f.to_ndarray(format="rgb24"))
            for f in container.decode(video=0)
        ]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "in.mp4"
    return write_video(path, seconds=3.0, fps=10, size=SIZE)


def test_audio_is_copied_bit_exact_and_timing_is_kept(
    clip: Path, tmp_path: Path
) -> None:
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    dst = tmp_path / "out.mp4"
    result = render_video_file(clip, dst)
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == digest
    audio_in, audio_out = _packets(clip, "audio"), _packets(dst, "audio")
    assert audio_in and audio_out == audio_in
    assert result.audio_packets == len(audio_in)
    with av.open(str(clip)) as a, av.open(str(dst)) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert vb.codec_context.name == "h264"
        assert vb.average_rate == va.average_rate
        assert vb.time_base == va.time_base
        assert b.duration == a.duration
        assert len(b.streams.audio) == 1
    frames_in, frames_out = _frames(clip), _frames(dst)
    assert [t for t, _ in frames_out] == [t for t, _ in frames_in]
    assert result.frames == len(frames_in) == 30


def test_label_covers_exactly_the_opening_frames(clip: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    style = VideoLabelStyle(opening=LabelStyle(position="bottom-left"), opening_s=2.0)
    result = render_video_file(clip, dst, style=style)
    assert result.labelled_frames == 20  # t = 0.0 ... 1.9 at 10 fps
    _, placement = label_overlay(SIZE, style.opening)
    x0, y0, x1, y1 = placement.box
    for (t, before), (_, after) in zip(_frames(clip), _frames(dst), strict=True):
        diff = np.abs(before.astype(int) - after.astype(int))[y0:y1, x0:x1].mean()
        if t < 2.0:
            assert diff > 40, t  # the dark box and white text are there
        else:
            assert diff < 8, t  # only re-encoding noise


def test_persistent_label_stays_to_the_last_frame(clip: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    persistent = LabelStyle(position="top-right", height_ratio=0.05)
    style = VideoLabelStyle(persistent=persistent)
    result = render_video_file(clip, dst, style=style)
    assert result.labelled_frames == result.frames
    _, placement = label_overlay(SIZE, persistent)
    x0, y0, x1, y1 = placement.box
    (_, before), (_, after) = _frames(clip)[-1], _frames(dst)[-1]
    assert np.abs(before.astype(int) - after.astype(int))[y0:y1, x0:x1].mean() > 40


@pytest.mark.parametrize("seconds", [0.0, 1.0, 1.99, float("nan")])
def test_opening_under_two_seconds_is_refused(seconds: float) -> None:
    with pytest.raises(InvalidLabelStyle, match="minimum of 2 s"):
        VideoLabelStyle(opening_s=seconds)


def test_mp4_metadata_with_an_aigc_key_survives(tmp_path: Path) -> None:
    src, dst = tmp_path / "meta.mp4", tmp_path / "out.mp4"
    label = '{"AIGC":{"Label":"1","ContentProducer":"001191440300708461136T1XGW3"}}'
    options = {"movflags": "use_metadata_tags"}
    with av.open(str(src), "w", format="mp4", options=options) as out:
        out.metadata.update({"AIGC": label, "title": "clip"})
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_image(gradient(*SIZE, seed=i))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    render_video_file(src, dst)
    with av.open(str(dst)) as container:
        assert container.metadata.get("AIGC") == label
        assert container.metadata.get("title") == "clip"


def test_matroska_keeps_its_container_and_audio(tmp_path: Path) -> None:
    src = write_video(
        tmp_path / "in.mkv", seconds=2.5, fps=10, size=SIZE, fmt="matroska"
    )
    dst = tmp_path / "out.mkv"
    result = render_video_file(src, dst)
    with av.open(str(dst)) as container:
        assert "matroska" in container.format.name
    assert _packets(dst, "audio") == _packets(src, "audio")
    assert result.labelled_frames == 20


def test_bad_inputs_give_deepguard_errors_and_no_output(tmp_path: Path) -> None:
    audio = write_audio(tmp_path / "tone.wav")
    with pytest.raises(UnsupportedFormat, match="no video stream"):
        render_video_file(audio, tmp_path / "a.wav")
    good = write_video(tmp_path / "good.mp4", seconds=1.0, size=SIZE)
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(good.read_bytes()[:1500])
    with pytest.raises((CorruptMedia, UnsupportedFormat)) as info:
        render_video_file(truncated, tmp_path / "b.mp4")
    assert "cut.mp4" in str(info.value)
    with pytest.raises(MediaLimitExceeded, match="max_pixels"):
        render_video_file(good, tmp_path / "c.mp4", limits=Limits(max_pixels=1000))
    with pytest.raises(MediaLimitExceeded, match="max_duration_s"):
        render_video_file(good, tmp_path / "d.mp4", limits=Limits(max_duration_s=0.5))
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"tone.wav", "good.mp4", "cut.mp4"}
