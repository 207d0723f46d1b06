"""The video fast path on generated 720p clips made from the shared face photos.

The main clip: Obama's head crosses the frame from the left (gone at 3.2 s),
Biden's enters on the right at 1.6 s, over a smooth random background, H.264
at 30 fps. Sampled at 2 fps with a detection every 4th sample, detection frames
are 0 s and 2 s; in between, faces are followed by local re-detection.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from deepguard.config import Limits
from deepguard.errors import ConfigError, DeepguardError, UnsupportedFormat
from deepguard.likeness.face_video import FaceSighting, scan_video_faces
from deepguard.likeness.faces import FaceEngine, load_faces
from deepguard.media.image import load_image
from media_factory import write_audio, write_empty_video, write_video

LIMITS = Limits()
SIZE = (1280, 720)
FPS = 30
OBAMA_UNTIL = 3.2
BIDEN_FROM = 1.6


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="module")
def heads(shared_data: Path) -> tuple[Image.Image, Image.Image]:
    faces = shared_data / "faces" / "train"
    obama = load_image(faces / "obama/obama.jpg", limits=LIMITS)
    biden = load_image(faces / "biden/biden2.jpg", limits=LIMITS)
    return (
        obama.crop((250, 50, 750, 650)).resize((300, 360)),
        biden.crop((300, 150, 1000, 950)).resize((300, 340)),
    )


Layout = Callable[[float], list[tuple[Image.Image, tuple[int, int]]]]


def crossing(heads: tuple[Image.Image, Image.Image]) -> Layout:
    """Obama crosses from the left until 3.2 s; Biden enters on the right at 1.6 s."""
    obama, biden = heads

    def at(t: float) -> list[tuple[Image.Image, tuple[int, int]]]:
        shown = []
        if t < OBAMA_UNTIL:
            shown.append((obama, (40 + int(120 * t), 120)))
        if t >= BIDEN_FROM:
            shown.append((biden, (900 - int(30 * (t - BIDEN_FROM)), 330)))
        return shown

    return at


def write_clip(path: Path, layout: Layout, *, frames: int) -> Path:
    rng = np.random.default_rng(0)
    noise = (rng.random((9, 16, 3)) * 255).astype(np.uint8)
    background = Image.fromarray(noise).resize(SIZE, Image.Resampling.BILINEAR)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            frame = background.copy()
            for head, where in layout(i / FPS):
                frame.paste(head, where)
            picture = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def clip(
    tmp_path_factory: pytest.TempPathFactory, heads: tuple[Image.Image, Image.Image]
) -> Path:
    path = tmp_path_factory.mktemp("video") / "two_faces.mp4"
    return write_clip(path, crossing(heads), frames=4 * FPS)


@pytest.fixture(scope="module")
def sightings(clip: Path, engine: FaceEngine) -> list[FaceSighting]:
    return list(scan_video_faces(clip, limits=LIMITS, engine=engine))


@pytest.fixture(scope="module")
def references(
    shared_data: Path, engine: FaceEngine
) -> dict[str, npt.NDArray[np.float32]]:
    out = {}
    for person, rel in (("obama", "obama/obama2.jpg"), ("biden", "biden/biden.jpg")):
        (face,) = load_faces(
            shared_data / "faces/train" / rel, limits=LIMITS, engine=engine
        )
        assert face.embedding is not None
        out[person] = face.embedding
    return out


def by_track(sightings: list[FaceSighting]) -> dict[int, list[FaceSighting]]:
    tracks: dict[int, list[FaceSighting]] = defaultdict(list)
    for s in sightings:
        tracks[s.track_id].append(s)
    return dict(tracks)


def test_sightings_in_time_order(sightings: list[FaceSighting]) -> None:
    times = [s.t for s in sightings]
    assert times == sorted(times)
    for s in sightings:
        # Sampled at 2 fps: frame k is shown at k / 2 seconds.
        assert s.t == pytest.approx(s.frame_index / 2, abs=1 / FPS)
    assert {s.frame_index for s in sightings} == set(range(8))
    # One sighting per track per frame.
    keys = [(s.frame_index, s.track_id) for s in sightings]
    assert len(keys) == len(set(keys))


def test_two_tracks_with_consistent_ids(
    sightings: list[FaceSighting], references: dict[str, npt.NDArray[np.float32]]
) -> None:
    tracks = by_track(sightings)
    assert len(tracks) == 2
    first, second = (tracks[i] for i in sorted(tracks))
    # Obama: every sampled frame while on screen (0 s .. 3 s), then gone.
    assert [s.t for s in first] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    # Biden enters at 1.6 s, between detections: found at the next one (2 s)
    # and followed to the end.
    assert [s.t for s in second] == pytest.approx([2.0, 2.5, 3.0, 3.5])
    # Obama moves right, Biden stays on the right (boxes in 960 x 540 pixels).
    lefts = [s.face.box[0] for s in first]
    assert lefts == sorted(lefts)
    assert all(s.face.box[0] > 600 for s in second)
    for person, track in (("obama", first), ("biden", second)):
        embedded = [s for s in track if s.face.embedding is not None]
        assert embedded, person
        for s in embedded:
            assert s.face.embedding is not None
            near = {
                p: float(np.linalg.norm(s.face.embedding - ref))
                for p, ref in references.items()
            }
            assert min(near, key=near.__getitem__) == person
            assert near[person] < 0.6


def test_descriptors_on_detection_frames_only(sightings: list[FaceSighting]) -> None:
    for s in sightings:
        assert s.face.comparable, s.face.not_comparable
        detection_frame = s.frame_index % 4 == 0
        assert (s.face.embedding is not None) == detection_frame
        # Followed faces are confirmed by the detector too.
        assert s.face.detector_score > 0
        assert len(s.face.landmarks) == 5


def test_boxes_fit_the_decoded_frame(clip: Path, sightings: list[FaceSighting]) -> None:
    for s in sightings:
        left, top, width, height = s.face.box
        assert left >= 0
        assert left + width <= 960
        assert top >= 0
        assert top + height <= 540
    full = list(scan_video_faces(clip, limits=LIMITS, max_side=None))
    assert max(s.face.box[0] + s.face.box[2] for s in full) > 960


def test_detecting_every_frame_agrees(
    clip: Path, engine: FaceEngine, sightings: list[FaceSighting]
) -> None:
    every = list(scan_video_faces(clip, limits=LIMITS, engine=engine, redetect_every=1))
    assert [(s.frame_index, s.track_id) for s in every] == [
        (s.frame_index, s.track_id) for s in sightings
    ]
    assert all(s.face.embedding is not None for s in every)


def test_cut_to_another_person_starts_a_new_track(
    tmp_path: Path, heads: tuple[Image.Image, Image.Image], engine: FaceEngine
) -> None:
    # Obama until 1.75 s, then a cut to Biden in the same place: the boxes
    # overlap, the descriptors at the next detection frame (2 s) do not.
    obama, biden = heads

    def at(t: float) -> list[tuple[Image.Image, tuple[int, int]]]:
        return [(obama if t < 1.75 else biden, (400, 150))]

    path = write_clip(tmp_path / "cut.mp4", at, frames=3 * FPS)
    tracks = by_track(list(scan_video_faces(path, limits=LIMITS, engine=engine)))
    assert len(tracks) == 2
    first, second = (tracks[i] for i in sorted(tracks))
    assert [s.t for s in first] == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert [s.t for s in second] == pytest.approx([2.0, 2.5])
    assert second[0].face.embedding is not None


def test_one_frame_video(
    tmp_path: Path, heads: tuple[Image.Image, Image.Image], engine: FaceEngine
) -> None:
    path = write_clip(tmp_path / "one.mp4", crossing(heads), frames=1)
    (only,) = scan_video_faces(path, limits=LIMITS, engine=engine)
    assert only.t == 0.0
    assert only.frame_index == 0
    assert only.face.embedding is not None


def test_video_without_faces(tmp_path: Path, engine: FaceEngine) -> None:
    path = write_video(tmp_path / "plain.mp4", seconds=1.0, size=(320, 240))
    assert list(scan_video_faces(path, limits=LIMITS, engine=engine)) == []


def test_video_with_no_frames(tmp_path: Path) -> None:
    # A container whose video stream never got a frame: FFmpeg reports no
    # stream at all, and the media layer says so in one line.
    path = write_empty_video(tmp_path / "empty.mp4")
    with pytest.raises(UnsupportedFormat, match="no video stream") as info:
        list(scan_video_faces(path, limits=LIMITS))
    assert str(path) in str(info.value)


def test_no_video_stream(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "tone.wav", fmt="wav")
    with pytest.raises(UnsupportedFormat, match="no video stream") as info:
        list(scan_video_faces(path, limits=LIMITS))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [0.0, 0.3])
def test_corrupt_and_truncated_files(clip: Path, tmp_path: Path, keep: float) -> None:
    data = clip.read_bytes()
    path = tmp_path / "bad.mp4"
    path.write_bytes(data[: int(len(data) * keep)] if keep else b"\x00garbage" * 64)
    with pytest.raises(DeepguardError) as info:
        list(scan_video_faces(path, limits=LIMITS))
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "zero.mp4"
    path.write_bytes(b"")
    with pytest.raises(DeepguardError) as info:
        list(scan_video_faces(path, limits=LIMITS))
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("fps", "every"), [(0.0, 4), (2.0, 0)])
def test_bad_settings(clip: Path, fps: float, every: int) -> None:
    with pytest.raises(ConfigError, match="must be positive"):
        list(scan_video_faces(clip, limits=LIMITS, fps=fps, redetect_every=every))
