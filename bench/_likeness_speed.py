"""Speed for bench/likeness.py: frames, the face_recognition peer, video and voice.

The peer. ``face_recognition`` 1.3.0 (installed without dependencies) runs
the same dlib models: HOG detector, 5-point landmarks in its ``model="small"``
mode, the same ResNet descriptor. Importing it needs two things this
project does not allow or ship:

* its ``face_recognition_models`` dependency does ``from pkg_resources import
  resource_filename``, and setuptools 84 no longer has ``pkg_resources``;
* at import time ``face_recognition.api`` loads every model the package
  ships, including ``shape_predictor_68_face_landmarks.dat``, whose training
  data forbids commercial use and which deepguard must never load.

:func:`load_face_recognition` handles both inside this benchmark only: it
puts a minimal ``pkg_resources`` (``resource_filename`` through
importlib.resources) into ``sys.modules`` for the import and takes it out
again, and that shim answers a request for the 68-point file with the
5-point file, so the forbidden model is never read. The benchmark only calls
``face_encodings(model="small")``, which uses the 5-point predictor, so the
peer computes exactly what it would with the real file in place.
"""

from __future__ import annotations

import importlib
import importlib.resources
import math
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.likeness.faces import Face, FaceEngine
from deepguard.likeness.finder import Found, LikenessFinder
from deepguard.likeness.voices import RATE, VoiceEngine

FORBIDDEN_MODEL = "shape_predictor_68_face_landmarks.dat"
ALLOWED_MODEL = "shape_predictor_5_face_landmarks.dat"

Frame = npt.NDArray[np.uint8]


def letterbox(rgb: Frame, width: int, height: int) -> Frame:
    """``rgb`` scaled to fit ``width`` x ``height`` and centred on black."""
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(rgb, size, interpolation=interpolation)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    out[top : top + size[1], left : left + size[0]] = small
    return out


def time_frames(
    run: Callable[[Frame], int], frames: Sequence[Frame], repeats: int
) -> tuple[float, float, int]:
    """Median wall and CPU seconds for all frames (after a warm-up pass), and faces.

    CPU time (this process, all threads) is reported next to wall time
    because the machine is shared: other jobs stretch wall time, much less
    the CPU time a pipeline itself spends.
    """
    faces = sum(run(f) for f in frames)
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for frame in frames:
            run(frame)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus)), faces


def deepguard_faces(engine: FaceEngine) -> Callable[[Frame], int]:
    """Detect and embed: faces with a descriptor per frame."""

    def run(frame: Frame) -> int:
        return sum(1 for f in engine.analyse(frame) if f.embedding is not None)

    return run


def load_face_recognition() -> tuple[Any | None, str]:
    """The ``face_recognition`` module, or None and why it cannot run."""
    from PIL import ImageFile

    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    inserted = "pkg_resources" not in sys.modules
    if inserted:
        sys.modules["pkg_resources"] = _pkg_resources_shim()
    try:
        module = importlib.import_module("face_recognition")
    except BaseException as exc:  # its import may even call quit()
        why = f"{type(exc).__name__}: {exc}"
        return None, f"face_recognition cannot be imported: {why}"
    finally:
        if inserted:
            sys.modules.pop("pkg_resources", None)
        # face_recognition sets this globally on import; keep deepguard's decodes
        # as strict as they are without the peer.
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    version = getattr(module, "__version__", "?")
    return module, f"face_recognition {version}"


def _pkg_resources_shim() -> types.ModuleType:
    """A stand-in for setuptools' removed ``pkg_resources`` (see module doc)."""
    shim = types.ModuleType("pkg_resources")

    def resource_filename(package: str, name: str) -> str:
        if Path(name).name == FORBIDDEN_MODEL:
            name = str(Path(name).with_name(ALLOWED_MODEL))
        return str(importlib.resources.files(package).joinpath(name))

    shim.resource_filename = resource_filename  # type: ignore[attr-defined]
    return shim


def peer_faces(module: Any, upsample: int) -> Callable[[Frame], int]:
    """face_recognition's documented pipeline: face_locations + face_encodings."""

    def run(frame: Frame) -> int:
        boxes = module.face_locations(frame, number_of_times_to_upsample=upsample)
        return len(module.face_encodings(frame, boxes, model="small"))

    return run


# -- video ---------------------------------------------------------------------------


def write_face_clip(path: Path, face: Frame, *, seconds: float, fps: int = 30) -> None:
    """A 1280x720 H.264 clip: ``face`` (a photo crop) moving over a textured scene.

    The crop glides on a Lissajous path and slowly changes size (about
    180-260 px wide), so the tracker has to follow it; the background is a
    blurred noise texture that drifts, so the encoder has real work.
    """
    width, height = 1280, 720
    rng = np.random.default_rng(5)
    texture = rng.integers(0, 255, (height // 8, (width + 400) // 8, 3), np.uint8)
    texture = cv2.GaussianBlur(cv2.resize(texture, (width + 400, height)), (0, 0), 3)
    frames = max(1, round(seconds * fps))
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(frames):
            t = i / fps
            shift = int(200 + 200 * math.sin(t / 3))
            img = np.ascontiguousarray(
                texture[:, shift : shift + width], dtype=np.uint8
            )
            side = int(220 + 40 * math.sin(t / 2.3))
            sprite = cv2.resize(
                face, (side, round(side * face.shape[0] / face.shape[1]))
            )
            sh, sw = sprite.shape[:2]
            x = int((width - sw) / 2 + (width - sw) / 2.4 * math.sin(t / 2.1))
            y = int((height - sh) / 2 + (height - sh) / 2.4 * math.sin(t / 1.3))
            img[y : y + sh, x : x + sw] = sprite
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(img, format="rgb24")
            ):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def face_crop(rgb: Frame, face: Face, margin: float = 0.8) -> Frame:
    """The face with ``margin`` times its box around it (head and shoulders)."""
    left, top, w, h = face.box
    mx, my = round(margin * w), round(margin * h)
    rows, cols = rgb.shape[:2]
    crop = rgb[
        max(0, top - my) : min(rows, top + h + my),
        max(0, left - mx) : min(cols, left + w + mx),
    ]
    return np.ascontiguousarray(crop)


def time_video(
    finder: LikenessFinder, path: Path, repeats: int
) -> tuple[float, float, Found]:
    """Median wall and CPU seconds of ``finder.in_video`` (after a warm-up run)."""
    found = finder.in_video(path, limits=Limits())
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        found = finder.in_video(path, limits=Limits())
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus)), found


def time_voice(
    engine: VoiceEngine, samples: npt.NDArray[np.float32], repeats: int
) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``VoiceEngine.windows``, and windows embedded."""
    windows = engine.windows(samples)
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        engine.windows(samples)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    embedded = sum(1 for w in windows if w.embedding is not None)
    return float(np.median(walls)), float(np.median(cpus)), embedded


def seconds_of_speech(
    clips: Sequence[npt.NDArray[np.float32]], seconds: float
) -> npt.NDArray[np.float32]:
    """Clips joined end to end and cut to ``seconds`` (they must be long enough)."""
    joined = np.concatenate(list(clips))
    wanted = round(seconds * RATE)
    if joined.size < wanted:
        msg = f"only {joined.size / RATE:.1f} s of speech for a {seconds:g} s test"
        raise SystemExit(msg)
    return np.ascontiguousarray(joined[:wanted])
