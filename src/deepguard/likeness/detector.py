"""The likeness detector: protected people in uploads, and who had no right.

Finding kinds (see ``docs/scan-schema.md``):

* ``likeness.face`` / ``likeness.voice`` - an appearance of an enrolled
  person: start and end times, best frame, box (faces), score and calibrated
  probability.
* ``likeness.not_comparable`` - faces were seen that cannot be compared (too
  small, in profile, blurred): reported, never dropped silently.
* ``impersonation`` - the uploader (``scan --account``) is neither the
  person's official account nor licensed for the evidence's scope (face,
  voice) now. The verdict turns it into an ``impersonation[]`` entry.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np

from deepguard.media.image import load_image
from deepguard.media.item import MediaItem
from deepguard.media.probe import MediaKind
from deepguard.scan.detector import Detector
from deepguard.scan.finding import Finding
from deepguard.store.interface import IStore, Person, Scope

if TYPE_CHECKING:
    # The finder and registry import dlib and torch (over a second): they load
    # on the first file, so scans that never reach this detector stay fast.
    from deepguard.accounts import AccountRef
    from deepguard.config import Settings
    from deepguard.likeness.appearances import Appearance
    from deepguard.likeness.finder import Found, LikenessFinder
    from deepguard.likeness.registry import Registry

__all__ = ["LikenessDetector"]

_KINDS = frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO})


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "in the picture"
    minutes, secs = divmod(seconds, 60.0)
    return f"{int(minutes)}:{secs:04.1f}"


def _span(a: Appearance, still: bool) -> str:
    if still:
        return "in the picture"
    return f"at {_clock(a.start_s)}-{_clock(a.end_s)} (best {_clock(a.best_t)})"


class LikenessDetector(Detector):
    """Finds enrolled faces and voices; flags unauthorised uploaders."""

    name: ClassVar[str] = "likeness"
    version: ClassVar[str] = "1"
    metadata_only: ClassVar[bool] = False

    def __init__(
        self,
        finder: Callable[[], LikenessFinder],
        registry: Callable[[], Registry],
        *,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        # Both are built on first use, and the registry only once someone is
        # found: it loads the face and voice engines (dlib, torch), which a
        # scan of an installation with nobody enrolled never needs.
        self._finder = functools.cache(finder)
        self._registry = functools.cache(registry)
        self._now = now or functools.partial(dt.datetime.now, dt.UTC)

    @classmethod
    def over(
        cls,
        registry: Registry,
        finder: LikenessFinder,
        *,
        now: Callable[[], dt.datetime] | None = None,
    ) -> Self:
        """A detector over an open registry (tests, embedding applications)."""
        return cls(lambda: finder, lambda: registry, now=now)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        @functools.cache
        def store() -> IStore:
            # Opened on the first file: building a scanner stays cheap.
            from deepguard.store.sql.store import SqlStore

            settings.home.mkdir(parents=True, exist_ok=True)
            return SqlStore.open(settings.resolved_database_url)

        def finder() -> LikenessFinder:
            from deepguard.likeness.finder import LikenessFinder

            return LikenessFinder(
                store(),
                settings=settings.likeness,
                cache_dir=settings.home / "likeness",
            )

        def registry() -> Registry:
            from deepguard.likeness.registry import Registry

            return Registry.for_store(store(), settings)

        return cls(finder, registry)

    @property
    def registry(self) -> Registry:
        return self._registry()

    @property
    def finder(self) -> LikenessFinder:
        return self._finder()

    def supports(self, item: MediaItem) -> bool:
        return item.kind in _KINDS

    def run(self, item: MediaItem) -> list[Finding]:
        if item.kind is MediaKind.IMAGE:
            if self.finder.index("face") is None:
                return []
            rgb = np.asarray(load_image(item.path, limits=item.limits))
            found = self.finder.in_image(rgb)
        elif item.kind is MediaKind.VIDEO:
            found = self.finder.in_video(item.path, limits=item.limits)
        else:
            found = self.finder.in_audio(item.path, limits=item.limits)
        return self._findings(found, item.uploader, still=item.kind is MediaKind.IMAGE)

    # --- findings -----------------------------------------------------------------

    def _findings(
        self, found: Found, uploader: AccountRef | None, *, still: bool
    ) -> list[Finding]:
        findings: list[Finding] = []
        by_person: dict[int, list[Appearance]] = defaultdict(list)
        for appearance in found.appearances:
            by_person[appearance.person_id].append(appearance)
        people = {pid: self.registry.person(pid) for pid in by_person}
        for pid, appearances in by_person.items():
            person = people[pid]
            for a in appearances:
                findings.append(self._appearance(person, a, still=still))
        if found.not_comparable_count:
            reasons = sorted({n.reason for n in found.not_comparable})
            findings.append(
                Finding(
                    detector=self.name,
                    kind="likeness.not_comparable",
                    confidence=1.0,
                    summary=(
                        f"{found.not_comparable_count} face(s) seen, not comparable: "
                        + "; ".join(reasons)
                    ),
                    details={
                        "count": found.not_comparable_count,
                        "faces_seen": found.faces_seen,
                        "examples": [n.to_dict() for n in found.not_comparable],
                    },
                )
            )
        if uploader is not None:
            for pid, appearances in by_person.items():
                flagged = self._impersonation(
                    people[pid], appearances, uploader, still=still
                )
                if flagged is not None:
                    findings.append(flagged)
        return findings

    def _appearance(self, person: Person, a: Appearance, *, still: bool) -> Finding:
        when = _span(a, still)
        return Finding(
            detector=self.name,
            kind=f"likeness.{a.modality}",
            confidence=a.probability,
            summary=(
                f"{person.name}'s {a.modality} {when}, score {a.score:.3f}, "
                f"probability {a.probability:.3f}"
            ),
            details={
                "person_id": person.id,
                "person": person.name,
                **a.to_dict(),
            },
        )

    def _impersonation(
        self,
        person: Person,
        appearances: list[Appearance],
        uploader: AccountRef,
        *,
        still: bool,
    ) -> Finding | None:
        modalities = sorted({a.modality for a in appearances})
        now = self._now()
        refused: list[str] = []
        why: list[str] = []
        expired = False
        for modality in modalities:
            status = self.registry.account_status(
                uploader.platform, uploader.handle, person.id, Scope(modality), now
            )
            if status.allowed:
                continue
            refused.append(modality)
            why += [r for r in status.reasons if r not in why]
            expired = expired or bool(status.lapsed)
        if not refused:
            return None
        evidence = "both" if len(modalities) == 2 else modalities[0]
        reasons = [
            f"{person.name}'s {a.modality} {_span(a, still)} "
            f"(probability {a.probability:.3f})"
            for a in appearances
        ]
        reasons += why
        return Finding(
            detector=self.name,
            kind="impersonation",
            confidence=max(a.probability for a in appearances),
            summary=(
                f"{person.name} ({evidence}) uploaded by {uploader}, which has "
                "no right to their likeness"
            ),
            details={
                "person_id": person.id,
                "person": person.name,
                "evidence": evidence,
                "account": str(uploader),
                "account_status": "expired" if expired else "unauthorised",
                "scopes_refused": refused,
                "reasons": reasons,
            },
        )
