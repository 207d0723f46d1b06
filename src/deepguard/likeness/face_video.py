"""Faces in video, fast: sample, detect now and then, follow in between.

Why this shape: in a clip sampled at 2 fps the expensive steps are the face
descriptor (about 90 ms per face: dlib's network on one core, without BLAS)
and the whole-frame detector (about 50 ms on a 960 x 540 frame). Neither is
needed on every sampled frame to know who is on screen and when:

* Frames are decoded at ``fps`` and scaled by the decoder so the longer side
  is at most ``max_side`` (:func:`deepguard.media.av.iter_frames`).
* Every ``redetect_every``-th sampled frame is a *detection frame*: the
  engine detects (at its reduced detection size), aligns and describes every
  face there. A frame where no track could be followed is a detection frame
  too, so a face entering an empty scene is found at once.
* In between, each face is followed by detection in a small window around
  where it is expected (its last box moved by its last motion), scaled so
  the face is about 100 px: about 7 ms per face, and every sighting is a face
  the detector confirmed in that very frame, never a tracker drifting over
  the background. A face not found there ends its track.
* On detection frames, faces continue the track whose expected box they
  overlap most (IoU at least 0.3); the others start new tracks.

Descriptors: every face on every detection frame, as the moment a track is
re-identified. At the defaults (2 fps, every 4th sample) that is one
descriptor per face per 2 s, and a talking head costs about 45 ms of network
time per second of video. A face that continues a track by position but
whose descriptor is farther than 0.6 from the track's last one (dlib's usual
same-person limit: a cut put another person in the same place) starts a new
track instead; the frames followed just before that detection (under 2 s)
stay with the old track. Sightings from the frames between detections carry
``face.embedding = None`` even when ``face.comparable`` is True; identify a
track from its embedded sightings.

Smallest face found: the detector's boxes start at about 75 px at the size
it scans; at the defaults a 720p frame is decoded at 960 x 540, so faces from
about 100 px (a seventh of the frame height) in the source are found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.errors import ConfigError
from deepguard.likeness.faces import Face, FaceEngine
from deepguard.media.av import iter_frames

__all__ = [
    "DEFAULT_MAX_SIDE",
    "DEFAULT_REDETECT_EVERY",
    "FaceSighting",
    "scan_video_faces",
]

DEFAULT_REDETECT_EVERY: Final = 4
DEFAULT_MAX_SIDE: Final = 960
"""Decoded frame size. Detection cost grows with the pixel count. At 960,
20 s 720p30 clips took 2.7 s of CPU time with one face on screen for half
the clip and two for the other half (7.5x real time), and 3.8 s with two
faces throughout (5.3x); a face big enough to detect at this size is big
enough to describe."""

MIN_IOU: Final = 0.3
"""Overlap at which a detection continues a track rather than starting one."""
_SAME_FACE_IOU: Final = 0.5
_NEW_PERSON_DISTANCE: Final = 0.6
"""Descriptor distance at which a face no longer continues a track: dlib's
published same-person operating point (the shared photos: same person at
most 0.48, different people at least 0.68)."""


@dataclass(frozen=True, slots=True)
class FaceSighting:
    """One face in one sampled frame.

    ``frame_index`` counts sampled frames from 0 (the frame shown at ``t``
    seconds); ``track_id`` is the same for the same physical face across
    frames, until a frame where it is not found near where it was expected.
    """

    t: float
    frame_index: int
    track_id: int
    face: Face


class _Track:
    """One followed face: last box, motion per sampled frame, last descriptor."""

    __slots__ = ("box", "dx", "dy", "embedding", "track_id")

    def __init__(self, track_id: int, face: Face) -> None:
        self.track_id = track_id
        self.box = face.box
        self.dx = 0
        self.dy = 0
        self.embedding = face.embedding

    def expected(self) -> tuple[int, int, int, int]:
        """Where the face should be in the next sampled frame (constant motion)."""
        left, top, width, height = self.box
        return left + self.dx, top + self.dy, width, height

    def same_person(self, face: Face) -> bool:
        """False when both descriptors exist and say these are two people."""
        if self.embedding is None or face.embedding is None:
            return True
        gap = float(np.linalg.norm(self.embedding - face.embedding))
        return gap <= _NEW_PERSON_DISTANCE

    def move(self, face: Face) -> None:
        box = face.box
        self.dx = box[0] + box[2] // 2 - (self.box[0] + self.box[2] // 2)
        self.dy = box[1] + box[3] // 2 - (self.box[1] + self.box[3] // 2)
        self.box = box
        if face.embedding is not None:
            self.embedding = face.embedding


def scan_video_faces(
    path: Path,
    *,
    limits: Limits,
    engine: FaceEngine | None = None,
    fps: float = 2.0,
    redetect_every: int = DEFAULT_REDETECT_EVERY,
    max_side: int | None = DEFAULT_MAX_SIDE,
) -> Iterator[FaceSighting]:
    """Yield every face seen in the sampled frames of a video, in time order.

    Boxes are in the pixels of the decoded frames (at most ``max_side`` on the
    longer side; ``None`` decodes at full size).

    Raises:
        ConfigError: ``fps`` or ``redetect_every`` is not positive.
        UnsupportedFormat: not a video, or no video stream.
        CorruptMedia: the video cannot be decoded.
        MediaLimitExceeded: pixels, duration or decode time over ``limits``.
    """
    if not fps > 0 or redetect_every < 1:
        msg = f"fps ({fps}) and redetect_every ({redetect_every}) must be positive"
        raise ConfigError(msg)
    engine = engine or FaceEngine()
    tracks: list[_Track] = []
    next_id = 0
    frames = iter_frames(path, limits=limits, fps=fps, max_side=max_side)
    for index, frame in enumerate(frames):
        image = np.ascontiguousarray(frame.image)
        if tracks and index % redetect_every:
            alive = _follow(engine, image, tracks)
            if alive:
                for track, face in alive:
                    track.move(face)
                    yield FaceSighting(frame.timestamp, index, track.track_id, face)
                tracks = [track for track, _ in alive]
                continue
        faces = engine.analyse(image)
        pairs = _associate([t.expected() for t in tracks], [f.box for f in faces])
        kept: list[_Track] = []
        for face_i, face in enumerate(faces):
            track_i = pairs.get(face_i)
            if track_i is not None and tracks[track_i].same_person(face):
                track = tracks[track_i]
                track.move(face)
            else:
                track = _Track(next_id, face)
                next_id += 1
            kept.append(track)
            yield FaceSighting(frame.timestamp, index, track.track_id, face)
        tracks = kept


def _follow(
    engine: FaceEngine, image: npt.NDArray[np.uint8], tracks: list[_Track]
) -> list[tuple[_Track, Face]]:
    """Each track's face near where it is expected; lost tracks are left out.

    Two tracks that close in on one face (two people crossing) cannot both
    keep it: the older track does, the other is lost.
    """
    alive: list[tuple[_Track, Face]] = []
    for track in tracks:
        face = engine.find_near(image, track.expected())
        if face is None:
            continue
        if any(_iou(face.box, other.box) >= _SAME_FACE_IOU for _, other in alive):
            continue
        alive.append((track, face))
    return alive


def _associate(
    tracked: list[tuple[int, int, int, int]], detected: list[tuple[int, int, int, int]]
) -> dict[int, int]:
    """Detection index -> track index, greedily by decreasing overlap (IoU)."""
    candidates = sorted(
        (
            (_iou(box, tbox), d, t)
            for d, box in enumerate(detected)
            for t, tbox in enumerate(tracked)
        ),
        reverse=True,
    )
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for iou, d, t in candidates:
        if iou < MIN_IOU:
            break
        if d not in pairs and t not in used:
            pairs[d] = t
            used.add(t)
    return pairs


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
