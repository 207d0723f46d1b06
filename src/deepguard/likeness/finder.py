"""Find enrolled people in images, videos and audio.

The registry holds embeddings; this turns a file into appearances of
registered people: faces per sampled frame and voices per sliding window are
matched against the FAISS indexes, and hits of one person are merged into
appearances with start and end times (see :mod:`.appearances`).

Why the indexes are cached on disk with the registry's revision: worker
processes each need them, and the threshold they were calibrated with must be
the one a later reviewer sees; a registry change bumps the revision, so a
stale cache is rebuilt, never used.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from deepguard.config import LikenessSettings, Limits
from deepguard.errors import DeepguardError, UnsupportedFormat
from deepguard.likeness.appearances import (
    Appearance,
    FaceHit,
    VoiceHit,
    merge_face_hits,
    merge_voice_hits,
)
from deepguard.likeness.calibration import Modality, default_calibration
from deepguard.likeness.index import LikenessIndex, Reference
from deepguard.store.interface import IPersonStore

if TYPE_CHECKING:
    # The engines import dlib and torch (over a second); they load when a
    # registry with references first needs them, never for an empty one.
    from deepguard.likeness.faces import Face, FaceEngine
    from deepguard.likeness.voices import VoiceEngine

__all__ = ["Found", "LikenessFinder", "NotComparable"]

log = logging.getLogger(__name__)

_MAX_NOT_COMPARABLE = 20
"""Faces seen but not comparable kept per file as examples (all are counted)."""


@dataclass(frozen=True, slots=True)
class NotComparable:
    """A face that was seen but cannot be compared (too small, profile, blur)."""

    t: float | None
    box: tuple[int, int, int, int]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "box": list(self.box), "reason": self.reason}


@dataclass(slots=True)
class Found:
    """Everything the finder saw in one file."""

    appearances: list[Appearance] = field(default_factory=list)
    faces_seen: int = 0
    not_comparable: list[NotComparable] = field(default_factory=list)
    not_comparable_count: int = 0
    voice_seconds: float = 0.0

    def note_face(self, face: Face, t: float | None) -> None:
        self.faces_seen += 1
        if face.comparable:
            return
        self.not_comparable_count += 1
        if len(self.not_comparable) < _MAX_NOT_COMPARABLE:
            reason = face.not_comparable or "not comparable"
            self.not_comparable.append(NotComparable(t, face.box, reason))


class LikenessFinder:
    """Matches faces and voices in media against the registry's references.

    Engines are built on first use, so a scan with an empty registry (most
    installations before anyone enrols) never loads a model.
    """

    def __init__(
        self,
        people: IPersonStore,
        *,
        settings: LikenessSettings | None = None,
        faces: Callable[[], FaceEngine] | None = None,
        voices: Callable[[], VoiceEngine] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.people = people
        self.settings = settings or LikenessSettings()
        self._make_faces = faces
        self._make_voices = voices
        self._faces: FaceEngine | None = None
        self._voices: VoiceEngine | None = None
        self.cache_dir = cache_dir
        self._indexes: dict[Modality, LikenessIndex] = {}

    # --- indexes ------------------------------------------------------------------

    def index(self, modality: Modality) -> LikenessIndex | None:
        """The current index for ``modality``; None when nobody is enrolled in it."""
        revision = self.people.registry_revision()
        cached = self._indexes.get(modality)
        if cached is None or cached.revision != revision:
            cached = self._load_or_build(modality, revision)
            self._indexes[modality] = cached
        return cached if len(cached) else None

    def _target_fmr(self, modality: Modality) -> float:
        s = self.settings
        return s.face_fmr if modality == "face" else s.voice_fmr

    def _load_or_build(self, modality: Modality, revision: int) -> LikenessIndex:
        calibration = default_calibration(modality, self._target_fmr(modality))
        directory = self.cache_dir / modality if self.cache_dir else None
        if directory is not None and directory.exists():
            try:
                index = LikenessIndex.load(directory)
            except DeepguardError as exc:
                log.warning("rebuilding the %s index: %s", modality, exc)
            else:
                if (
                    index.revision == revision
                    and index.calibration.to_dict() == calibration.to_dict()
                ):
                    return index
        refs = self._references(modality)
        index = LikenessIndex.build(modality, refs, calibration, revision=revision)
        if directory is not None:
            try:
                index.save(directory)
            except DeepguardError as exc:  # a read-only home still scans
                log.warning("cannot cache the %s index: %s", modality, exc)
        return index

    def _references(self, modality: Modality) -> list[Reference]:
        rows: Iterable[Any] = (
            self.people.face_references()
            if modality == "face"
            else self.people.voice_references()
        )
        return [Reference(r.person_id, r.id, r.embedding) for r in rows]

    # --- engines ------------------------------------------------------------------

    def face_engine(self) -> FaceEngine:
        if self._faces is None:
            if self._make_faces is None:
                from deepguard.likeness.faces import FaceEngine

                self._make_faces = FaceEngine
            self._faces = self._make_faces()
        return self._faces

    def voice_engine(self) -> VoiceEngine:
        if self._voices is None:
            if self._make_voices is None:
                from deepguard.likeness.voices import VoiceEngine

                self._make_voices = VoiceEngine
            self._voices = self._make_voices()
        return self._voices

    # --- media --------------------------------------------------------------------

    def in_image(self, rgb: npt.NDArray[np.uint8]) -> Found:
        """Registered faces in one picture."""
        found = Found()
        index = self.index("face")
        if index is None:
            return found
        faces = self.face_engine().analyse(rgb)
        hits = self._face_hits(index, [(0.0, n, f) for n, f in enumerate(faces)])
        for face in faces:
            found.note_face(face, None)
        found.appearances = merge_face_hits(hits)
        return found

    def in_video(self, path: Path, *, limits: Limits) -> Found:
        """Registered faces in sampled frames and voices in the audio track."""
        found = Found()
        index = self.index("face")
        if index is not None:
            from deepguard.likeness.face_video import scan_video_faces

            sightings = []
            for s in scan_video_faces(
                path,
                limits=limits,
                engine=self.face_engine(),
                fps=self.settings.video_fps,
            ):
                found.note_face(s.face, s.t)
                sightings.append((s.t, s.track_id, s.face))
            found.appearances += merge_face_hits(self._face_hits(index, sightings))
        self._voices_in(path, limits, found, required=False)
        return found

    def in_audio(self, path: Path, *, limits: Limits) -> Found:
        """Registered voices in an audio file."""
        found = Found()
        self._voices_in(path, limits, found, required=True)
        return found

    def _face_hits(
        self, index: LikenessIndex, sightings: list[tuple[float, int, Face]]
    ) -> list[FaceHit]:
        """Hits for faces with descriptors, and for the frames of their tracks.

        The video fast path embeds a track only on detection frames; the
        frames where it was merely followed belong to the same person, so
        they extend the appearance (with the score of the track's best hit)
        instead of cutting it into pieces.
        """
        comparable = [
            (t, track, f.box, f.embedding)
            for t, track, f in sightings
            if f.embedding is not None
        ]
        if not comparable:
            return []
        queries = np.stack([e for *_, e in comparable]).astype(np.float32)
        hits: list[FaceHit] = []
        best: dict[int, FaceHit] = {}
        for (t, track, box, _), matches in zip(
            comparable, index.search(queries, k=1), strict=True
        ):
            for m in matches:
                hit = FaceHit(
                    t=t,
                    person_id=m.person_id,
                    track_id=track,
                    box=box,
                    score=m.score,
                    probability=m.probability,
                )
                hits.append(hit)
                if track not in best or hit.score > best[track].score:
                    best[track] = hit
        for t, track, face in sightings:
            if face.embedding is None and face.comparable and track in best:
                hits.append(dataclasses.replace(best[track], t=t, box=face.box))
        return hits

    def _voices_in(
        self, path: Path, limits: Limits, found: Found, *, required: bool
    ) -> None:
        index = self.index("voice")
        if index is None:
            return
        from deepguard.likeness.voices import load_voice

        try:
            samples = load_voice(path, limits=limits, max_s=self.settings.max_audio_s)
        except UnsupportedFormat:
            if required:
                raise
            return  # a video without an audio track has no voice to find
        windows = self.voice_engine().windows(samples)
        embedded = [w for w in windows if w.embedding is not None]
        found.voice_seconds = sum(w.speech_s for w in windows)
        if not embedded:
            return
        queries = np.stack([w.embedding for w in embedded if w.embedding is not None])
        hits = [
            VoiceHit(
                start_s=w.start_s,
                end_s=w.end_s,
                person_id=m.person_id,
                score=m.score,
                probability=m.probability,
            )
            for w, matches in zip(embedded, index.search(queries, k=1), strict=True)
            for m in matches
        ]
        found.appearances += merge_voice_hits(hits)
