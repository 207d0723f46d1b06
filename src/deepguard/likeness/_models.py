"""Find the model files that ship inside pip packages, without importing them.

Why not import the packages: ``face_recognition_models`` imports
``pkg_resources`` (not installed, and deprecated) just to build these paths,
and ``resemblyzer`` imports ``librosa`` (not installed) before anything else.
``importlib.util.find_spec`` locates a top-level package's folder without
running its ``__init__``, which is all deepguard needs.

The packaged files are pinned by SHA-256 (the packages are pinned in
``pyproject.toml``), so a truncated download or a modified file is a one-line
:class:`DependencyError` here instead of a crash or silently wrong embeddings
later. A user may point at their own copies instead; those are checked for
existence and, where the format allows it cheaply, for being the right kind of
model (a :class:`ConfigError`, since the setting is theirs).

The 5-point landmark model is the only one allowed: the 68-point model's
training data (iBUG 300-W) forbids commercial use, so a user-supplied predictor
is refused unless its header says it has 5 parts.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import Final

from deepguard.errors import ConfigError, DependencyError

__all__ = [
    "face_encoder_path",
    "shape_predictor_path",
    "voice_encoder_path",
]

_FACE_PACKAGE: Final = "face_recognition_models"
_VOICE_PACKAGE: Final = "resemblyzer"

_SHAPE_PREDICTOR: Final = (
    "models/shape_predictor_5_face_landmarks.dat",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
)
_FACE_ENCODER: Final = (
    "models/dlib_face_recognition_resnet_model_v1.dat",
    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
)
_VOICE_ENCODER: Final = (
    "pretrained.pt",
    "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
)

_ENCODER_MAGIC: Final = b"loss_metric"
"""dlib writes the loss layer's name near the start of a serialised network;
the face recognition ResNet is trained with ``loss_metric``."""


def shape_predictor_path(explicit: Path | None = None) -> Path:
    """dlib's 5-point face landmark model (``shape_predictor_5_face_landmarks.dat``).

    Raises:
        DependencyError: the packaged file is missing or not the pinned file.
        ConfigError: ``explicit`` is missing, unreadable or not a 5-point model.
    """
    if explicit is None:
        return _packaged(_FACE_PACKAGE, *_SHAPE_PREDICTOR)
    path = _user_file(explicit, "landmark model")
    parts = _predictor_parts(path)
    if parts != 5:
        got = (
            "not a dlib shape predictor" if parts is None else f"a {parts}-point model"
        )
        msg = f"landmark model is {got}; deepguard needs the 5-point model"
        raise ConfigError(msg, path=path)
    return path


def face_encoder_path(explicit: Path | None = None) -> Path:
    """dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``).

    Raises:
        DependencyError: the packaged file is missing or not the pinned file.
        ConfigError: ``explicit`` is missing, unreadable or not a dlib metric net.
    """
    if explicit is None:
        return _packaged(_FACE_PACKAGE, *_FACE_ENCODER)
    path = _user_file(explicit, "face recognition model")
    if _ENCODER_MAGIC not in _head(path, 64):
        msg = "not a dlib face recognition model (no loss_metric layer)"
        raise ConfigError(msg, path=path)
    return path


def voice_encoder_path(explicit: Path | None = None) -> Path:
    """Resemblyzer's GE2E speaker encoder weights (``pretrained.pt``).

    Raises:
        DependencyError: the packaged file is missing or not the pinned file.
        ConfigError: ``explicit`` is missing or unreadable.
    """
    if explicit is None:
        return _packaged(_VOICE_PACKAGE, *_VOICE_ENCODER)
    return _user_file(explicit, "voice encoder weights")


def _package_dir(package: str) -> Path:
    """The folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        msg = f"the {package} package is not installed; reinstall deepguard"
        raise DependencyError(msg)
    return Path(locations[0])


def _packaged(package: str, relative: str, sha256: str) -> Path:
    path = _package_dir(package) / relative
    try:
        stat = path.stat()
    except OSError as exc:
        msg = f"model file missing from the {package} package; reinstall it"
        raise DependencyError(msg, path=path) from exc
    if _sha256(path, stat.st_size, stat.st_mtime_ns) != sha256:
        msg = (
            f"model file is corrupt or modified (SHA-256 differs from the pinned "
            f"{package}); reinstall it"
        )
        raise DependencyError(msg, path=path)
    return path


@functools.cache
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    """Digest of a model file, once per process per version of the file.

    ``size`` and ``mtime_ns`` are only part of the cache key, so a file
    replaced while the process runs is hashed again.
    """
    del size, mtime_ns
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        msg = f"cannot read model file: {exc.strerror or exc}"
        raise DependencyError(msg, path=path) from exc
    return digest.hexdigest()


def _user_file(path: Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        msg = f"{what} not found (no such file)"
        raise ConfigError(msg, path=path)
    if not _head(path, 1):
        msg = f"{what} is an empty file"
        raise ConfigError(msg, path=path)
    return path


def _head(path: Path, n: int) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        msg = f"cannot read model file: {exc.strerror or exc}"
        raise ConfigError(msg, path=path) from exc


def _predictor_parts(path: Path) -> int | None:
    """Landmark count from a dlib ``shape_predictor`` file's header, or None.

    Read without loading the model, so a 68-point file is refused before dlib
    ever deserialises it. The file starts with the format version (1) and the
    mean shape, a column matrix of ``2 * parts`` floats whose row count dlib
    writes negated. dlib packs each integer as one control byte (bits 0-3: the
    number of little-endian bytes that follow, bit 7: negative) plus the bytes.
    """
    head = _head(path, 32)
    values: list[int] = []
    pos = 0
    while len(values) < 3 and pos < len(head):
        control = head[pos]
        size = control & 0x0F
        if size > 8 or pos + 1 + size > len(head):
            return None
        value = int.from_bytes(head[pos + 1 : pos + 1 + size], "little")
        values.append(-value if control & 0x80 else value)
        pos += 1 + size
    if len(values) < 3:
        return None
    version, rows, cols = values
    if version != 1 or rows >= 0 or cols != -1 or (-rows) % 2:
        return None
    return -rows // 2
