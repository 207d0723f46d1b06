"""Merge per-frame face matches and per-window voice matches into appearances.

A scan matches faces frame by frame and voices window by window; a reviewer
wants "Alice, 0:12 to 0:31, clearest at 0:17, here". An appearance is one
stretch of time in which one protected person is seen (or heard): its start
and end, the best match in it (score, probability, time, box) and how many
hits it gathered.

Rules, for one person at a time (two people on screen together never merge):

* Face hits on the same track are one appearance, however far apart: the
  tracker followed that face between them, so the person was on screen even
  where a frame did not match (a turned head, motion blur).
* Otherwise hits, or groups of hits, whose time spans overlap or lie within
  ``max_gap_s`` of each other are one appearance; a longer gap starts a new
  one. Voice windows merge the same way on their [start, end] spans.

Everything here is a pure function of its input, independent of its order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from deepguard.errors import ConfigError, InvalidSignal

__all__ = [
    "DEFAULT_FACE_GAP_S",
    "DEFAULT_VOICE_GAP_S",
    "Appearance",
    "FaceHit",
    "VoiceHit",
    "merge_face_hits",
    "merge_voice_hits",
]

DEFAULT_FACE_GAP_S: Final = 2.0
"""Largest gap between face hits (without a shared track) that still merges.
At the default 2 frames/s sampling it bridges three frames without a match."""

DEFAULT_VOICE_GAP_S: Final = 1.0
"""Largest gap between matching voice windows that still merges. Windows
overlap (3 s long, 1.5 s apart), so a gap means at least one window in
between did not match; a pause for breath should not split a speaker."""

Box = tuple[int, int, int, int]


def _finite(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value)):
        msg = f"{name} must be a finite number, got {value!r}"
        raise InvalidSignal(msg)


@dataclass(frozen=True, slots=True)
class FaceHit:
    """One face in one frame matched to a person.

    ``box`` is passed through untouched (left, top, width, height in the
    frame's pixels, as :class:`~deepguard.likeness.faces.Face` has it);
    ``track_id`` names the physical face across frames, None when untracked.

    Raises:
        InvalidSignal: a non-finite time, score or probability.
    """

    t: float
    person_id: int
    track_id: int | None
    box: Box
    score: float
    probability: float

    def __post_init__(self) -> None:
        for name in ("t", "score", "probability"):
            _finite(f"face hit {name}", getattr(self, name))


@dataclass(frozen=True, slots=True)
class VoiceHit:
    """One audio window, ``start_s`` to ``end_s``, matched to a person.

    Raises:
        InvalidSignal: a non-finite value, or a window that ends before it
            starts.
    """

    start_s: float
    end_s: float
    person_id: int
    score: float
    probability: float

    def __post_init__(self) -> None:
        for name in ("start_s", "end_s", "score", "probability"):
            _finite(f"voice hit {name}", getattr(self, name))
        if self.end_s < self.start_s:
            msg = f"voice hit ends ({self.end_s}) before it starts ({self.start_s})"
            raise InvalidSignal(msg)


@dataclass(frozen=True, slots=True)
class Appearance:
    """One person seen or heard over one stretch of time.

    ``score`` and ``probability`` are the best among the hits; ``best_t``,
    ``box`` and ``track_id`` belong to the best-scoring hit (for a voice,
    ``best_t`` is the middle of the best window and there is no box or
    track). For a still image every time is 0.
    """

    person_id: int
    modality: Literal["face", "voice"]
    start_s: float
    end_s: float
    score: float
    probability: float
    best_t: float
    box: Box | None
    hits: int
    track_id: int | None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for findings and reports."""
        return {
            "modality": self.modality,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "best_t": round(self.best_t, 3),
            "score": round(self.score, 4),
            "probability": round(self.probability, 6),
            "box": list(self.box) if self.box is not None else None,
            "hits": self.hits,
            "track_id": self.track_id,
        }


def _check_parameters(max_gap_s: float, min_hits: int) -> None:
    if not (isinstance(max_gap_s, int | float) and 0.0 <= max_gap_s < math.inf):
        msg = f"max_gap_s must be a finite number >= 0, got {max_gap_s!r}"
        raise ConfigError(msg)
    if isinstance(min_hits, bool) or not isinstance(min_hits, int) or min_hits < 1:
        msg = f"min_hits must be a whole number >= 1, got {min_hits!r}"
        raise ConfigError(msg)


@dataclass(slots=True)
class _Group:
    """Hits of one person gathered into one stretch of time."""

    start: float
    end: float
    members: list[Any]

    def absorb(self, other: _Group) -> None:
        self.start = min(self.start, other.start)
        self.end = max(self.end, other.end)
        self.members.extend(other.members)


def _sweep(groups: list[_Group], max_gap_s: float) -> list[_Group]:
    """Join groups whose spans overlap or lie within ``max_gap_s``.

    After the sweep, consecutive groups are more than ``max_gap_s`` apart.
    """
    merged: list[_Group] = []
    for group in sorted(groups, key=lambda g: (g.start, g.end)):
        if merged and group.start <= merged[-1].end + max_gap_s:
            merged[-1].absorb(group)
        else:
            merged.append(group)
    return merged


def _best_face(hits: Sequence[FaceHit]) -> FaceHit:
    # Highest score; ties go to the earliest, then the lowest track and box,
    # so the result never depends on the input order.
    return min(
        hits,
        key=lambda h: (
            -h.score,
            h.t,
            h.track_id if h.track_id is not None else -1,
            h.box,
        ),
    )


def merge_face_hits(
    hits: Iterable[FaceHit],
    *,
    max_gap_s: float = DEFAULT_FACE_GAP_S,
    min_hits: int = 1,
) -> list[Appearance]:
    """Face appearances from per-frame hits, ordered by start, then person.

    Appearances with fewer than ``min_hits`` hits are dropped (a lone
    frame in a long video is more often a look-alike than a person).

    Raises:
        ConfigError: a negative or infinite gap, or ``min_hits`` below 1.
    """
    _check_parameters(max_gap_s, min_hits)
    by_person: dict[int, list[_Group]] = defaultdict(list)
    tracked: dict[tuple[int, int], _Group] = {}
    for hit in hits:
        key = (hit.person_id, hit.track_id) if hit.track_id is not None else None
        group = tracked.get(key) if key is not None else None
        if group is None:
            group = _Group(hit.t, hit.t, [])
            by_person[hit.person_id].append(group)
            if key is not None:
                tracked[key] = group
        group.absorb(_Group(hit.t, hit.t, [hit]))
    appearances: list[Appearance] = []
    for person, groups in by_person.items():
        for group in _sweep(groups, max_gap_s):
            if len(group.members) < min_hits:
                continue
            best = _best_face(group.members)
            appearances.append(
                Appearance(
                    person_id=person,
                    modality="face",
                    start_s=group.start,
                    end_s=group.end,
                    score=best.score,
                    probability=max(h.probability for h in group.members),
                    best_t=best.t,
                    box=best.box,
                    hits=len(group.members),
                    track_id=best.track_id,
                )
            )
    return sorted(appearances, key=_order)


def merge_voice_hits(
    hits: Iterable[VoiceHit],
    *,
    max_gap_s: float = DEFAULT_VOICE_GAP_S,
) -> list[Appearance]:
    """Voice appearances from per-window hits, ordered by start, then person.

    Raises:
        ConfigError: a negative or infinite gap.
    """
    _check_parameters(max_gap_s, 1)
    by_person: dict[int, list[_Group]] = defaultdict(list)
    for hit in hits:
        by_person[hit.person_id].append(_Group(hit.start_s, hit.end_s, [hit]))
    appearances: list[Appearance] = []
    for person, groups in by_person.items():
        for group in _sweep(groups, max_gap_s):
            members: list[VoiceHit] = group.members
            best = min(members, key=lambda h: (-h.score, h.start_s, h.end_s))
            appearances.append(
                Appearance(
                    person_id=person,
                    modality="voice",
                    start_s=group.start,
                    end_s=group.end,
                    score=best.score,
                    probability=max(h.probability for h in members),
                    best_t=(best.start_s + best.end_s) / 2.0,
                    box=None,
                    hits=len(members),
                    track_id=None,
                )
            )
    return sorted(appearances, key=_order)


def _order(a: Appearance) -> tuple[float, int, float]:
    return (a.start_s, a.person_id, a.end_s)
