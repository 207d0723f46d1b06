"""deepguard's video watermark on generated clips: a camera pan over a photo.

The clips are H.264 at 30 fps with an AAC track and container tags, made
with PyAV the way a generator would write them. Margins, as measured when
these tests were written (the detection threshold is p = 1e-6, z = 6.9):

* marked 360p clip: z 16.4, p 1e-55; luma PSNR against the source 40.4 dB
  on average (the 43 dB mark plus the CRF 18 re-encode);
* re-encodes that keep the payload: CRF 23 at 360p (z 11.2), CRF 18 down to
  240p (z 10.9), a re-encoded 3-second cut at CRF 23 (z 10.5), 720p at CRF 23
  down to 480p (z 10.6);
* CRF 30 with a rescale (360p to 240p: z 4.0; 720p to 480p: z 4.4) loses
  the mark: those tests are expected failures until the mark is stronger.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from deepguard.errors import (
    CannotCarryMark,
    CorruptMedia,
    DeepguardError,
    UnsupportedFormat,
)
from deepguard.media.video_rewrite import RewrittenVideo
from deepguard.watermark.base import DEFAULT_FPR, Detection, Status, WatermarkKey
from deepguard.watermark.payload import Payload
from deepguard.watermark.video import VideoWatermarker, detect_video_file
from media_factory import SHARED_DATA, chords, write_audio, write_video

RGB = npt.NDArray[np.uint8]

PAYLOAD = Payload.for_content("001191440300708461136T1XGW3", "video-0001")
FPS = 30
METADATA = {"title": "generated clip", "comment": "made by a test", "AIGC": "{}"}


# -- clips ---------------------------------------------------------------------


def scene_picture() -> RGB:
    """A real photo to pan over, or a generated texture when the data is absent."""
    photo = SHARED_DATA / "faces" / "test" / "obama_and_biden.jpg"
    if photo.is_file():
        with Image.open(photo) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    rng = np.random.default_rng(5)
    canvas = np.full((900, 1600, 3), 128.0, np.float32)
    for cell, amplitude in ((120, 40.0), (30, 18.0), (6, 8.0)):
        coarse = rng.normal(0, 1, (900 // cell + 2, 1600 // cell + 2, 3))
        smooth = cv2.resize(
            coarse.astype(np.float32),
            (1600 + 2 * cell, 900 + 2 * cell),
            interpolation=cv2.INTER_CUBIC,
        )
        canvas += amplitude * smooth[cell : cell + 900, cell : cell + 1600]
    return np.clip(canvas, 0, 255).astype(np.uint8)


def write_clip(
    path: Path,
    scene: RGB,
    *,
    size: tuple[int, int] = (640, 360),
    seconds: float = 4.0,
    metadata: dict[str, str] | None = None,
) -> Path:
    """A pan across ``scene`` (left to right, bobbing) with a stereo AAC track."""
    width, height = size
    scale = max(1.2 * height / scene.shape[0], 1.4 * width / scene.shape[1])
    big = np.asarray(
        cv2.resize(
            scene,
            (math.ceil(scene.shape[1] * scale), math.ceil(scene.shape[0] * scale)),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        ),
        dtype=np.uint8,
    )
    frames = round(seconds * FPS)
    # use_metadata_tags: MP4 keeps custom keys such as AIGC only this way.
    with av.open(
        str(path), "w", format="mp4", options={"movflags": "use_metadata_tags"}
    ) as out:
        out.metadata.update(metadata or {})
        video = out.add_stream(
            "libx264", rate=FPS, options={"crf": "20", "preset": "veryfast"}
        )
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        sound = out.add_stream("aac", rate=44100)
        sound.layout = "stereo"
        for i in range(frames):
            x = round((big.shape[1] - width) * i / max(frames - 1, 1))
            y = round((big.shape[0] - height) * (0.5 + 0.5 * math.sin(i / 20)))
            view = np.ascontiguousarray(big[y : y + height, x : x + width])
            for packet in video.encode(av.VideoFrame.from_ndarray(view, "rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        music = chords(seconds, seed=3, rate=44100).astype(np.float32)
        for start in range(0, music.size, 1024):
            block = np.tile(music[start : start + 1024], (2, 1))
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 44100, start
            frame.time_base = Fraction(1, 44100)
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    return path


def reencode(
    src: Path,
    dst: Path,
    *,
    height: int,
    crf: int,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> int:
    """What a platform does to an upload: cut, rescale, x264 at ``crf``.

    Returns the number of frames written.
    """
    written = 0
    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        vin = source.streams.video[0]
        width = (
            round(vin.codec_context.width * height / vin.codec_context.height / 2) * 2
        )
        video = out.add_stream(
            "libx264", rate=FPS, options={"crf": str(crf), "preset": "veryfast"}
        )
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        for frame in source.decode(vin):
            t = float(frame.time)
            if t < start_s - 1e-6:
                continue
            if end_s is not None and t >= end_s - 1e-6:
                break
            scaled = frame.reformat(
                width=width, height=height, format="yuv420p", interpolation="BICUBIC"
            )
            scaled.pts, scaled.time_base = written, Fraction(1, FPS)
            for packet in video.encode(scaled):
                out.mux(packet)
            written += 1
        for packet in video.encode():
            out.mux(packet)
    return written


def faststart_copy(src: Path, dst: Path) -> Path:
    """The same packets with the index first, as web uploads are written."""
    with (
        av.open(str(src)) as source,
        av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as out,
    ):
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def luma_frames(path: Path) -> list[tuple[int | None, npt.NDArray[np.float64]]]:
    with av.open(str(path)) as container:
        return [
            (frame.pts, frame.to_ndarray(format="gray").astype(np.float64))
            for frame in container.decode(video=0)
        ]


def audio_packets(path: Path) -> list[tuple[Any, Any, bytes]]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(p.pts, p.dts, bytes(p)) for p in container.demux(stream) if p.size]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_decodes(found: Detection, *, p_max: float = DEFAULT_FPR) -> None:
    assert found.status is Status.PRESENT, found.details
    assert found.p_value <= p_max
    assert found.payload == PAYLOAD
    assert found.method == "deepguard-video"


def assert_one_line_about(error: DeepguardError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")


# -- fixtures ------------------------------------------------------------------


@dataclass(frozen=True)
class Marked:
    src: Path
    dst: Path
    result: RewrittenVideo
    src_sha256_before: str


@pytest.fixture(scope="module")
def vw() -> VideoWatermarker:
    return VideoWatermarker()


@pytest.fixture(scope="module")
def scene() -> RGB:
    return scene_picture()


def _mark(folder: Path, clip: Path, vw: VideoWatermarker) -> Marked:
    before = sha256(clip)
    result = vw.embed_file(clip, folder / "marked.mp4", PAYLOAD)
    return Marked(clip, folder / "marked.mp4", result, before)


@pytest.fixture(scope="module")
def marked_360p(
    tmp_path_factory: pytest.TempPathFactory, scene: RGB, vw: VideoWatermarker
) -> Marked:
    folder = tmp_path_factory.mktemp("clip360")
    clip = write_clip(folder / "clip.mp4", scene, metadata=METADATA)
    return _mark(folder, clip, vw)


@pytest.fixture(scope="module")
def marked_720p(
    tmp_path_factory: pytest.TempPathFactory, scene: RGB, vw: VideoWatermarker
) -> Marked:
    folder = tmp_path_factory.mktemp("clip720")
    clip = write_clip(folder / "clip.mp4", scene, size=(1280, 720), seconds=3.0)
    return _mark(folder, clip, vw)


# -- embedding -----------------------------------------------------------------


def test_embed_keeps_every_frame_and_its_timestamp(marked_360p: Marked) -> None:
    source, marked = luma_frames(marked_360p.src), luma_frames(marked_360p.dst)
    assert len(source) == len(marked) == 120
    assert marked_360p.result.frames == 120
    assert marked_360p.result.edited_frames == 120
    assert [pts for pts, _ in marked] == [pts for pts, _ in source]


def test_marked_frames_stay_close_to_the_source(marked_360p: Marked) -> None:
    """Luma PSNR per frame: the mark (43 dB) plus the re-encode (CRF 18).

    Measured: mean 40.4 dB, worst frame 39.8 dB.
    """
    source, marked = luma_frames(marked_360p.src), luma_frames(marked_360p.dst)
    values = [
        10 * math.log10(255.0**2 / float(np.mean((a - b) ** 2)))
        for (_, a), (_, b) in zip(source, marked, strict=True)
    ]
    assert float(np.mean(values)) >= 39.0
    assert min(values) >= 38.5


def test_embed_copies_the_audio_packets(marked_360p: Marked) -> None:
    source = audio_packets(marked_360p.src)
    assert len(source) > 150  # 4 s of 44.1 kHz AAC: 174 packets
    assert audio_packets(marked_360p.dst) == source
    assert marked_360p.result.audio_streams == 1
    assert marked_360p.result.audio_packets == len(source)


def test_embed_keeps_the_container_metadata(marked_360p: Marked) -> None:
    with av.open(str(marked_360p.dst)) as container:
        tags = dict(container.metadata)
        kinds = [s.type for s in container.streams]
    for key, value in METADATA.items():
        assert tags.get(key) == value
    assert kinds == ["video", "audio"]


def test_embed_leaves_the_input_alone(marked_360p: Marked) -> None:
    assert sha256(marked_360p.src) == marked_360p.src_sha256_before
    # The output is written atomically: no temporary file is left behind.
    assert sorted(p.name for p in marked_360p.src.parent.iterdir()) == [
        "clip.mp4",
        "marked.mp4",
    ]


# -- detection -----------------------------------------------------------------


def test_detect_file_finds_the_payload(
    marked_360p: Marked, vw: VideoWatermarker
) -> None:
    found = vw.detect_file(marked_360p.dst)
    assert_decodes(found, p_max=1e-20)
    assert found.details["frames"] == 120
    assert float(np.mean(found.bit_confidence)) >= 0.99


def test_a_three_second_fragment_is_enough(
    marked_360p: Marked, vw: VideoWatermarker
) -> None:
    found = vw.detect_file(marked_360p.dst, start_s=1.0, duration_s=3.0)
    assert_decodes(found, p_max=1e-20)
    assert abs(found.details["frames"] - 90) <= 1


def test_a_half_second_fragment_is_enough(
    marked_360p: Marked, vw: VideoWatermarker
) -> None:
    """Every frame carries the whole payload: 15 frames decode (z 15)."""
    found = vw.detect_file(marked_360p.dst, start_s=2.0, duration_s=0.5)
    assert_decodes(found, p_max=1e-20)
    assert abs(found.details["frames"] - 15) <= 1


def test_unmarked_clip_is_absent(marked_360p: Marked, vw: VideoWatermarker) -> None:
    found = vw.detect_file(marked_360p.src)
    assert found.status is Status.ABSENT
    assert found.p_value > DEFAULT_FPR
    assert found.payload is None


def test_another_key_does_not_see_the_mark(marked_360p: Marked) -> None:
    other = VideoWatermarker(WatermarkKey(b"a provider's own secret"))
    found = other.detect_file(marked_360p.dst)
    assert found.status is Status.ABSENT
    assert found.p_value > DEFAULT_FPR


_CRF30_RESCALED = pytest.mark.xfail(
    strict=True,
    reason=(
        "the mark does not survive x264 CRF 30 with a downscale (z 3.7 to 4.3, "
        "threshold 6.9); CRF 18 (360p to 240p) and CRF 23 (720p to 480p) do"
    ),
)


@pytest.mark.parametrize(
    ("height", "crf", "start_s", "end_s"),
    [
        pytest.param(360, 23, 0.0, None, id="crf23"),
        pytest.param(240, 18, 0.0, None, id="crf18-240p"),
        pytest.param(360, 23, 1.0, 4.0, id="cut-3s-crf23"),
        pytest.param(240, 30, 0.0, None, id="crf30-240p", marks=_CRF30_RESCALED),
        pytest.param(240, 30, 1.0, 4.0, id="cut-3s-crf30-240p", marks=_CRF30_RESCALED),
    ],
)
def test_360p_reencoded(
    tmp_path: Path,
    marked_360p: Marked,
    vw: VideoWatermarker,
    height: int,
    crf: int,
    start_s: float,
    end_s: float | None,
) -> None:
    attacked = tmp_path / "attacked.mp4"
    frames = reencode(
        marked_360p.dst, attacked, height=height, crf=crf, start_s=start_s, end_s=end_s
    )
    assert frames == (120 if end_s is None else 90)
    assert_decodes(vw.detect_file(attacked))


@pytest.mark.parametrize(
    "crf",
    [pytest.param(23, id="crf23"), pytest.param(30, id="crf30", marks=_CRF30_RESCALED)],
)
def test_720p_reencoded_to_480p(
    tmp_path: Path, marked_720p: Marked, vw: VideoWatermarker, crf: int
) -> None:
    attacked = tmp_path / "attacked.mp4"
    assert reencode(marked_720p.dst, attacked, height=480, crf=crf) == 90
    found = vw.detect_file(attacked)
    assert_decodes(found)
    assert found.details["scale_x"] == pytest.approx(2 / 3, abs=0.02)


def test_a_truncated_upload_still_reveals_the_mark(
    tmp_path: Path, marked_360p: Marked, vw: VideoWatermarker
) -> None:
    """Index first, data cut at 60 %: the frames that arrived carry the mark."""
    whole = faststart_copy(marked_360p.dst, tmp_path / "faststart.mp4")
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert_decodes(vw.detect_file(cut))
    # Re-marking it either refuses in one line and writes nothing, or marks
    # the frames that arrived (where the cut falls decides which).
    out = tmp_path / "out.mp4"
    try:
        result = vw.embed_file(cut, out, PAYLOAD)
    except CorruptMedia as error:
        assert_one_line_about(error, cut)
        assert not out.exists()
    else:
        assert 0 < result.frames < 120
        assert_decodes(vw.detect_file(out))


# -- inputs that cannot carry or reveal a mark ----------------------------------


def test_one_frame_video(tmp_path: Path, vw: VideoWatermarker) -> None:
    clip = write_video(tmp_path / "one.mp4", seconds=0.1, fps=10, size=(640, 360))
    with pytest.raises(CannotCarryMark, match="one-frame video") as info:
        vw.embed_file(clip, tmp_path / "out.mp4", PAYLOAD)
    assert_one_line_about(info.value, clip)
    assert not (tmp_path / "out.mp4").exists()
    found = vw.detect_file(clip)
    assert found.status is Status.UNDETECTABLE
    assert found.reason is not None and "1 frame" in found.reason


def test_64x64_video(tmp_path: Path, vw: VideoWatermarker) -> None:
    clip = write_video(tmp_path / "small.mp4", seconds=1.0, fps=10, size=(64, 64))
    with pytest.raises(CannotCarryMark, match="frames are 64x64") as info:
        vw.embed_file(clip, tmp_path / "out.mp4", PAYLOAD)
    assert_one_line_about(info.value, clip)
    assert not (tmp_path / "out.mp4").exists()
    # 64 pixels is the least detection looks at; nothing is there to find.
    assert vw.detect_file(clip).status is Status.ABSENT


def test_48x48_video_is_undetectable(tmp_path: Path, vw: VideoWatermarker) -> None:
    clip = write_video(tmp_path / "tiny.mp4", seconds=1.0, fps=10, size=(48, 48))
    found = vw.detect_file(clip)
    assert found.status is Status.UNDETECTABLE
    assert found.reason is not None and "48x48" in found.reason


def _garbage(folder: Path) -> Path:
    path = folder / "garbage.mp4"
    path.write_bytes(np.random.default_rng(7).bytes(5000))
    return path


def _truncated(folder: Path) -> Path:
    """An MP4 cut in half; PyAV writes the index last, so it is gone."""
    whole = write_video(folder / "whole.mp4", seconds=1.0, size=(160, 128))
    data = whole.read_bytes()
    path = folder / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def _empty(folder: Path) -> Path:
    path = folder / "empty.mp4"
    path.write_bytes(b"")
    return path


def _audio_only(folder: Path) -> Path:
    path: Path = write_audio(folder / "sound.m4a", seconds=1.0, codec="aac", fmt="mp4")
    return path


@pytest.mark.parametrize(
    ("make", "embed_error"),
    [
        (_garbage, CorruptMedia),
        (_truncated, CorruptMedia),
        (_empty, CorruptMedia),
        (_audio_only, CannotCarryMark),
    ],
    ids=["garbage", "truncated", "empty", "audio only"],
)
def test_unreadable_files_give_one_line_errors(
    tmp_path: Path,
    vw: VideoWatermarker,
    make: Any,
    embed_error: type[DeepguardError],
) -> None:
    path: Path = make(tmp_path)
    out = tmp_path / "out.mp4"
    with pytest.raises(embed_error) as info:
        vw.embed_file(path, out, PAYLOAD)
    assert_one_line_about(info.value, path)
    assert not out.exists()
    with pytest.raises((CorruptMedia, UnsupportedFormat)) as detected:
        vw.detect_file(path)
    assert_one_line_about(detected.value, path)
    # The scanner's entry point turns the same errors into a result.
    found = detect_video_file(path)
    assert found.status is Status.UNDETECTABLE
    assert found.reason == str(detected.value)


def test_missing_file_is_a_one_line_error(tmp_path: Path, vw: VideoWatermarker) -> None:
    path = tmp_path / "missing.mp4"
    with pytest.raises(DeepguardError) as info:
        vw.embed_file(path, tmp_path / "out.mp4", PAYLOAD)
    assert_one_line_about(info.value, path)
    assert detect_video_file(path).status is Status.UNDETECTABLE
