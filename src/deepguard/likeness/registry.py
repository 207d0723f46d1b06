"""The likeness registry service: enrol people, their references, accounts, grants.

Why a service between the store and the edges: the CLI and the HTTP API must
apply the same enrolment rules and give the same answers about accounts, so
the rules live here once and the edges only parse arguments and print.

Enrolment is all or nothing per batch. Every file of ``enrol_faces([a, b, c])``
is checked first (readable, exactly one clear face, or enough speech); if any
is rejected nothing is written, and the :class:`EnrolReport` says why for each
file, so a user fixes every problem in one go and never leaves a person half
enrolled. A file whose content is already enrolled (same sha256) is reported
as a duplicate and skipped, which is not a failure.

The quality rules are the face engine's own (a face too small, in profile, cut
off or blurred is "not comparable") plus stricter minimums for references,
because a reference is compared with every upload for as long as it is
enrolled; see :data:`MIN_REFERENCE_FACE_PX` and
:data:`MIN_REFERENCE_SHARPNESS`.

The face and voice engines load large models, so they are built on first use
from the factories given to :class:`Registry`, once per registry.
"""

from __future__ import annotations

import builtins
import datetime as dt
import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from deepguard.accounts import account_key, normalise_account
from deepguard.config import Limits, Settings
from deepguard.errors import MediaError, NotFound, SignalError
from deepguard.likeness.faces import Face, FaceEngine, load_faces
from deepguard.likeness.voices import VoiceEngine, load_voice
from deepguard.media.item import sha256_file
from deepguard.store.interface import (
    Authorisation,
    FaceReference,
    IPersonStore,
    OfficialAccount,
    Person,
    Scope,
    Verification,
    VoiceReference,
    as_utc,
)

__all__ = [
    "MAX_REFERENCE_CLIP_S",
    "MIN_REFERENCE_FACE_PX",
    "MIN_REFERENCE_SHARPNESS",
    "MIN_SPEECH_S",
    "AccountStatus",
    "EnrolReport",
    "FileOutcome",
    "Outcome",
    "PersonDetail",
    "Registry",
    "Standing",
]

MIN_REFERENCE_FACE_PX: Final = 80
"""Smallest face (shorter side of the detector's box) accepted as a reference.

Twice the engine's minimum for comparing at all: the face module measured the
descriptor of a face scaled down to 70 px and more drifting less than 0.12
from the full-size one, against about 0.2 at 40 px, with a match threshold
near 0.6. The shared enrolment photos have faces of 125 px and more.
"""

MIN_REFERENCE_SHARPNESS: Final = 30.0
"""Least chip sharpness (variance of the Laplacian) accepted for a reference.

Three times the engine's blur limit: the face module measured sharp faces at
78 and more (31 for the smallest, 40 px faces) and faces blurred by 1 % of
their size at 19-30, with a descriptor drift of 0.15-0.21 that a reference
would carry into every comparison.
"""

MIN_SPEECH_S: Final = 5.0
"""Least speech (music, noise and silence excluded) in a voice reference clip."""

MAX_REFERENCE_CLIP_S: Final = 300.0
"""Only the first five minutes of a voice clip are decoded and embedded.

A reference needs seconds of speech, not hours; the cap bounds memory (a
decoded minute is 3.8 MB) whatever file a user points at.
"""


class Outcome(enum.StrEnum):
    """What enrolment did with one file."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """The verdict on one file of an enrolment batch.

    Attributes:
        path: the file as given.
        outcome: accepted, duplicate or rejected.
        reason: why it was rejected or is a duplicate (one line, without the
            path); None when accepted.
        sha256: the file's digest, when it could be read.
        quality: the face's quality (0..1), for accepted photos.
        speech_s: seconds of speech, for accepted clips.
        reference_id: the stored reference's id, once the batch is saved; for
            a duplicate, the id of the reference enrolled before (None when
            the duplicate is another file of the same batch).
    """

    path: Path
    outcome: Outcome
    reason: str | None = None
    sha256: str | None = None
    quality: float | None = None
    speech_s: float | None = None
    reference_id: int | None = None

    @property
    def message(self) -> str:
        """One line naming the file and what happened to it."""
        if self.outcome is not Outcome.ACCEPTED:
            return f"{self.path}: {self.outcome}: {self.reason}"
        if self.quality is not None:
            return f"{self.path}: accepted (quality {self.quality:.2f})"
        if self.speech_s is not None:
            return f"{self.path}: accepted ({self.speech_s:.1f} s of speech)"
        return f"{self.path}: accepted"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "path": str(self.path),
            "outcome": str(self.outcome),
            "reason": self.reason,
            "sha256": self.sha256,
            "quality": self.quality,
            "speech_s": self.speech_s,
            "reference_id": self.reference_id,
        }


@dataclass(frozen=True, slots=True)
class EnrolReport:
    """What one enrolment call did, file by file.

    ``saved`` is True when no file was rejected, so the accepted ones are now
    references; False means nothing of this batch was written.
    """

    person_id: int
    modality: Literal["face", "voice"]
    files: tuple[FileOutcome, ...]
    saved: bool

    @property
    def accepted(self) -> tuple[FileOutcome, ...]:
        return self._with(Outcome.ACCEPTED)

    @property
    def duplicates(self) -> tuple[FileOutcome, ...]:
        return self._with(Outcome.DUPLICATE)

    @property
    def rejected(self) -> tuple[FileOutcome, ...]:
        return self._with(Outcome.REJECTED)

    @property
    def reference_ids(self) -> tuple[int, ...]:
        """Ids of the references this call added (empty unless saved)."""
        if not self.saved:
            return ()
        return tuple(f.reference_id for f in self.accepted if f.reference_id)

    def _with(self, outcome: Outcome) -> tuple[FileOutcome, ...]:
        return tuple(f for f in self.files if f.outcome is outcome)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "person_id": self.person_id,
            "modality": self.modality,
            "saved": self.saved,
            "files": [f.to_dict() for f in self.files],
        }


class Standing(enum.StrEnum):
    """Whether an account may show a person's likeness."""

    OFFICIAL = "official"
    AUTHORISED = "authorised"
    UNAUTHORISED = "unauthorised"


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """The answer to "may this account use this person's likeness here?".

    Attributes:
        status: official (the person's own account), authorised (a grant
            covers the scope at that time) or unauthorised.
        platform, handle: the account, normalised.
        person_id: whose likeness.
        scope: what the upload uses: face, voice or both.
        at: the instant judged, in UTC.
        grants: the grants that authorise it (for ``both``, possibly one for
            the face and one for the voice); empty otherwise.
        reasons: one line each, for reviewers and verdicts.
        lapsed: grants to this account for the scope that are not valid at
            that instant (expired or not yet started), when unauthorised; a
            reviewer treats a lapsed licence differently from none.
    """

    status: Standing
    platform: str
    handle: str
    person_id: int
    scope: Scope
    at: dt.datetime
    grants: tuple[Authorisation, ...]
    reasons: tuple[str, ...]
    lapsed: tuple[Authorisation, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.status is not Standing.UNAUTHORISED

    @property
    def grant(self) -> Authorisation | None:
        """The first authorising grant, if any."""
        return self.grants[0] if self.grants else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "status": str(self.status),
            "account": f"{self.platform}:{self.handle}",
            "person_id": self.person_id,
            "scope": str(self.scope),
            "at": self.at.isoformat(),
            "grants": [g.id for g in self.grants],
            "lapsed": [g.id for g in self.lapsed],
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class PersonDetail:
    """Everything registered for one person (embeddings stay out of ``to_dict``)."""

    person: Person
    faces: tuple[FaceReference, ...]
    voices: tuple[VoiceReference, ...]
    accounts: tuple[OfficialAccount, ...]
    authorisations: tuple[Authorisation, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            **self.person.to_dict(),
            "faces": [r.to_dict() for r in self.faces],
            "voices": [r.to_dict() for r in self.voices],
            "accounts": [a.to_dict() for a in self.accounts],
            "authorisations": [g.to_dict() for g in self.authorisations],
        }


@dataclass(frozen=True, slots=True)
class _Checked:
    """A file that passed its checks, with the reference it would become."""

    outcome: FileOutcome
    reference: FaceReference | VoiceReference | None


class Registry:
    """Enrolment and account rules over an :class:`IPersonStore`.

    Args:
        store: where people and references live.
        faces: builds the face engine, on first face enrolment.
        voices: builds the voice engine, on first voice enrolment.
        limits: decoding limits for every file read.
    """

    def __init__(
        self,
        store: IPersonStore,
        *,
        faces: Callable[[], FaceEngine],
        voices: Callable[[], VoiceEngine],
        limits: Limits,
    ) -> None:
        self._store = store
        self._face_factory = faces
        self._voice_factory = voices
        self._limits = limits
        self._lock = threading.Lock()
        self._faces: FaceEngine | None = None
        self._voices: VoiceEngine | None = None

    @classmethod
    def for_store(cls, store: IPersonStore, settings: Settings) -> Registry:
        """A registry with the default engines and the configured limits."""
        return cls(store, faces=FaceEngine, voices=VoiceEngine, limits=settings.limits)

    # people

    def add_person(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        notes: str = "",
        verification: Verification | str = Verification.UNVERIFIED,
    ) -> Person:
        """Enrol a person (no references yet) and return them with their id.

        Raises:
            InvalidSignal: the name or an alias is empty or too long, or the
                verification status is unknown.
            StorageError: the store failed.
        """
        person = Person(
            name=name,
            aliases=tuple(aliases),
            notes=notes,
            verification=Verification.parse(verification),
        )
        return self._store.add_person(person=person)

    def enrol_person(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        notes: str = "",
        verification: Verification | str = Verification.UNVERIFIED,
        faces: Sequence[Path] = (),
        voices: Sequence[Path] = (),
        accounts: Sequence[tuple[str, str]] = (),
    ) -> tuple[Person | None, tuple[EnrolReport, ...]]:
        """Add a person with references and accounts, all or nothing.

        Why: a person half enrolled (a name with no usable face, or faces
        whose voice clip failed) would match nothing or the wrong things, and
        the team would not notice. If any file is rejected or any account is
        refused, the person is removed again and None comes back with the
        reports that say why.

        Raises:
            InvalidSignal: a malformed name, alias, verification or account.
            Conflict: an account belongs to someone already.
            StorageError: the store failed.
        """
        person = self.add_person(
            name, aliases=aliases, notes=notes, verification=verification
        )
        reports: list[EnrolReport] = []
        try:
            for platform, handle in accounts:
                self.add_account(person.id, platform, handle)
            if faces:
                reports.append(self.enrol_faces(person.id, faces))
            if voices and all(r.saved for r in reports):
                reports.append(self.enrol_voices(person.id, voices))
        except BaseException:
            self.remove(person.id)
            raise
        if not all(r.saved for r in reports):
            self.remove(person.id)
            return None, tuple(reports)
        return person, tuple(reports)

    def resolve(self, ref: str) -> Person:
        """The person a user means: an id, or a name or alias naming one person.

        Raises:
            NotFound: nobody, or several people, match.
        """
        text = ref.strip()
        if text.isdigit():
            return self.person(int(text))
        matches = [p for p in self.find(text) if p.matches(text)]
        exact = [p for p in matches if text.casefold() in _names(p)]
        chosen = exact or matches
        if len(chosen) == 1:
            return chosen[0]
        if not chosen:
            msg = f"no person named {ref!r}; see 'deepguard people list'"
            raise NotFound(msg)
        ids = ", ".join(f"{p.id} ({p.name})" for p in chosen[:10])
        msg = f"{len(chosen)} people match {ref!r}: {ids}; give the id"
        raise NotFound(msg)

    def person(self, person_id: int) -> Person:
        """The person with this id.

        Raises:
            NotFound: there is none.
            StorageError: the store failed.
        """
        return self._store.get_person(person_id=person_id)

    def show(self, person_id: int) -> PersonDetail:
        """A person with their references, accounts and grants.

        Raises:
            NotFound: there is no such person.
            StorageError: the store failed.
        """
        return PersonDetail(
            person=self._store.get_person(person_id=person_id),
            faces=tuple(self._store.face_references(person_id=person_id)),
            voices=tuple(self._store.voice_references(person_id=person_id)),
            accounts=tuple(self._store.accounts(person_id=person_id)),
            authorisations=tuple(self._store.authorisations(person_id=person_id)),
        )

    def find(self, query: str) -> builtins.list[Person]:
        """People whose name or an alias contains ``query``, ignoring case.

        Raises:
            StorageError: the store failed.
        """
        return self._store.find_people(query=query)

    def remove(self, person_id: int) -> None:
        """Remove a person with everything registered for them.

        Raises:
            NotFound: there is no such person.
            StorageError: the store failed.
        """
        self._store.remove_person(person_id=person_id)

    # references

    def enrol_faces(self, person_id: int, paths: Sequence[Path]) -> EnrolReport:
        """Check reference photos and store them all, or none if any is rejected.

        A photo is accepted when it decodes and shows exactly one face that
        the engine can compare, at least :data:`MIN_REFERENCE_FACE_PX` in
        size, not cut off by the photo's edge and at least
        :data:`MIN_REFERENCE_SHARPNESS` sharp.

        Raises:
            NotFound: there is no such person.
            Conflict: another writer enrolled one of the files meanwhile.
            DependencyError, ConfigError: the face models cannot be loaded.
            StorageError: the store failed.
        """
        enrolled = {
            r.sha256: r.id for r in self._store.face_references(person_id=person_id)
        }
        checked = self._check_all(paths, enrolled, self._check_photo)
        return self._save(person_id, "face", checked)

    def enrol_voices(self, person_id: int, paths: Sequence[Path]) -> EnrolReport:
        """Check reference clips and store them all, or none if any is rejected.

        A clip is accepted when its audio decodes and holds at least
        :data:`MIN_SPEECH_S` of speech within its first
        :data:`MAX_REFERENCE_CLIP_S`; silence, music and noise do not count.

        Raises:
            NotFound: there is no such person.
            Conflict: another writer enrolled one of the files meanwhile.
            DependencyError: the voice model cannot be loaded.
            StorageError: the store failed.
        """
        enrolled = {
            r.sha256: r.id for r in self._store.voice_references(person_id=person_id)
        }
        checked = self._check_all(paths, enrolled, self._check_clip)
        return self._save(person_id, "voice", checked)

    # accounts and grants

    def add_account(
        self, person_id: int, platform: str, handle: str
    ) -> OfficialAccount:
        """Register an account as the person's own.

        Raises:
            InvalidSignal: the platform or handle is malformed.
            NotFound: there is no such person.
            Conflict: the account is registered already (to anyone).
            StorageError: the store failed.
        """
        account = OfficialAccount(person_id=person_id, platform=platform, handle=handle)
        return self._store.add_account(account=account)

    def remove_account(self, person_id: int, platform: str, handle: str) -> None:
        """Unregister one of the person's accounts.

        Raises:
            InvalidSignal: the platform or handle is malformed.
            NotFound: the account is not registered to this person.
            StorageError: the store failed.
        """
        owner = self._store.owner_of(platform=platform, handle=handle)
        if owner is None or owner.id != person_id:
            plat, name = account_key(platform, handle)
            msg = f"account {plat}:{name} is not registered to person {person_id}"
            raise NotFound(msg)
        self._store.remove_account(platform=platform, handle=handle)

    def authorise(
        self,
        person_id: int,
        grantee: str,
        scope: Scope | str,
        *,
        valid_from: dt.datetime | None = None,
        valid_until: dt.datetime | None = None,
        note: str = "",
    ) -> Authorisation:
        """Grant an account (``platform:handle``) or a licensee use of a likeness.

        Raises:
            InvalidSignal: the grantee is empty, the scope unknown or the
                window ends before it starts.
            NotFound: there is no such person.
            StorageError: the store failed.
        """
        grant = Authorisation(
            person_id=person_id,
            grantee=grantee,
            scope=Scope.parse(scope),
            valid_from=valid_from,
            valid_until=valid_until,
            note=note,
        )
        return self._store.add_authorisation(authorisation=grant)

    def revoke(self, authorisation_id: int) -> Authorisation:
        """Delete a grant; returns it.

        Raises:
            NotFound: there is no such grant.
            StorageError: the store failed.
        """
        return self._store.remove_authorisation(authorisation_id=authorisation_id)

    def account_status(
        self,
        platform: str,
        handle: str,
        person_id: int,
        scope: Scope | str,
        at: dt.datetime | None = None,
    ) -> AccountStatus:
        """Whether an account may use a person's likeness in ``scope`` at ``at``.

        Official when the person registered the account as theirs. Otherwise
        authorised when grants to this account cover the scope at that
        instant (for ``both``: one grant of ``both``, or a face grant and a
        voice grant). Otherwise unauthorised, with the reasons: the account
        is someone else's, its grants expired, start later or cover another
        scope, or it has none. ``at`` defaults to now.

        Raises:
            InvalidSignal: the account or scope is malformed.
            NotFound: there is no such person.
            StorageError: the store failed.
        """
        plat, name = normalise_account(platform, handle)
        shown = f"{plat}:{name}"
        wanted = Scope.parse(scope)
        when = as_utc(at) if at is not None else dt.datetime.now(dt.UTC)
        person = self._store.get_person(person_id=person_id)
        owner = self._store.owner_of(platform=plat, handle=name)

        def status(
            standing: Standing,
            reasons: list[str],
            grants: tuple[Authorisation, ...] = (),
            lapsed: tuple[Authorisation, ...] = (),
        ) -> AccountStatus:
            return AccountStatus(
                status=standing,
                platform=plat,
                handle=name,
                person_id=person_id,
                scope=wanted,
                at=when,
                grants=grants,
                reasons=tuple(reasons),
                lapsed=lapsed,
            )

        if owner is not None and owner.id == person_id:
            return status(
                Standing.OFFICIAL,
                [f"{shown} is an official account of {_who(person)}"],
            )
        grants = [
            g
            for g in self._store.authorisations(person_id=person_id)
            if g.grants_account(plat, name)
        ]
        parts = (Scope.FACE, Scope.VOICE) if wanted is Scope.BOTH else (wanted,)
        covering = [next((g for g in grants if g.covers(p, when)), None) for p in parts]
        if all(g is not None for g in covering):
            found = tuple(dict.fromkeys(g for g in covering if g is not None))
            return status(
                Standing.AUTHORISED,
                [_granted(shown, g) for g in found],
                found,
            )
        reasons = [f"{shown} is not an official account of {_who(person)}"]
        if owner is not None:
            reasons.append(f"it is an official account of {_who(owner)}")
        missing = [p for p, g in zip(parts, covering, strict=True) if g is None]
        reasons += [_why_not(g, missing, when) for g in grants]
        if not grants:
            reasons.append(f"it holds no authorisation from {_who(person)}")
        lapsed = tuple(
            g
            for g in grants
            if any(g.scope.includes(p) for p in missing) and not g.is_valid_at(when)
        )
        return status(Standing.UNAUTHORISED, reasons, lapsed=lapsed)

    def list(self) -> builtins.list[Person]:
        """Everyone enrolled, by id.

        Raises:
            StorageError: the store failed.
        """
        return self._store.list_people()

    # internals

    def _check_all(
        self,
        paths: Sequence[Path],
        enrolled: dict[str, int],
        check: Callable[[Path, str], _Checked],
    ) -> builtins.list[_Checked]:
        """Hash every file, skip duplicates, check the rest with ``check``."""
        seen: dict[str, Path] = {}
        checked: builtins.list[_Checked] = []
        for given in paths:
            path = Path(given)
            try:
                sha = sha256_file(path)
            except MediaError as exc:
                checked.append(_rejected(path, exc.msg))
                continue
            if sha in enrolled:
                reason = f"already enrolled as reference {enrolled[sha]}"
                checked.append(_duplicate(path, sha, reason, enrolled[sha]))
            elif sha in seen:
                reason = f"same content as {seen[sha]}"
                checked.append(_duplicate(path, sha, reason, None))
            else:
                seen[sha] = path
                try:
                    checked.append(check(path, sha))
                except (MediaError, SignalError) as exc:
                    checked.append(_rejected(path, exc.msg, sha))
        return checked

    def _check_photo(self, path: Path, sha: str) -> _Checked:
        """One reference photo: exactly one clear, large, whole face.

        Raises:
            MediaError: the file cannot be decoded within the limits.
        """
        faces = load_faces(path, limits=self._limits, engine=self._face_engine())
        reason = _photo_problem(faces)
        if reason is not None:
            return _rejected(path, reason, sha)
        [face] = faces
        assert face.embedding is not None  # comparable faces carry one
        reference = FaceReference(
            sha256=sha,
            box=face.box,
            quality=face.quality,
            embedding=face.embedding,
            source=str(path),
        )
        accepted = FileOutcome(
            path=path, outcome=Outcome.ACCEPTED, sha256=sha, quality=face.quality
        )
        return _Checked(accepted, reference)

    def _check_clip(self, path: Path, sha: str) -> _Checked:
        """One reference clip: enough real speech to embed.

        Raises:
            MediaError: the file has no decodable audio within the limits.
            SignalError: the audio cannot be embedded.
        """
        samples = load_voice(path, limits=self._limits, max_s=MAX_REFERENCE_CLIP_S)
        engine = self._voice_engine()
        speech = engine.speech_seconds(samples)
        if speech < MIN_SPEECH_S:
            reason = (
                f"only {speech:.1f} s of speech; at least {MIN_SPEECH_S:g} s needed"
            )
            return _rejected(path, reason, sha)
        voice = engine.embed(samples)
        reference = VoiceReference(
            sha256=sha,
            speech_s=voice.speech_s,
            embedding=voice.embedding,
            source=str(path),
        )
        accepted = FileOutcome(
            path=path, outcome=Outcome.ACCEPTED, sha256=sha, speech_s=voice.speech_s
        )
        return _Checked(accepted, reference)

    def _save(
        self,
        person_id: int,
        modality: Literal["face", "voice"],
        checked: builtins.list[_Checked],
    ) -> EnrolReport:
        """Store the accepted references in one transaction, unless any failed."""
        outcomes = [c.outcome for c in checked]
        if any(o.outcome is Outcome.REJECTED for o in outcomes):
            return EnrolReport(person_id, modality, tuple(outcomes), saved=False)
        refs = [c.reference for c in checked if c.reference is not None]
        faces = [r for r in refs if isinstance(r, FaceReference)]
        voices = [r for r in refs if isinstance(r, VoiceReference)]
        ids = self._store.add_references(
            person_id=person_id, faces=faces, voices=voices
        )
        new_ids = iter(ids.faces if modality == "face" else ids.voices)
        saved = [
            replace(c.outcome, reference_id=next(new_ids))
            if c.reference is not None
            else c.outcome
            for c in checked
        ]
        return EnrolReport(person_id, modality, tuple(saved), saved=True)

    def _face_engine(self) -> FaceEngine:
        with self._lock:
            if self._faces is None:
                self._faces = self._face_factory()
            return self._faces

    def _voice_engine(self) -> VoiceEngine:
        with self._lock:
            if self._voices is None:
                self._voices = self._voice_factory()
            return self._voices


def _photo_problem(faces: Sequence[Face]) -> str | None:
    """Why these faces cannot make a reference, or None if they can."""
    if not faces:
        return "no face found"
    if len(faces) > 1:
        return f"{len(faces)} faces found; crop the photo to one person"
    [face] = faces
    if face.not_comparable is not None:
        return f"face not usable: {face.not_comparable}"
    if face.size_px < MIN_REFERENCE_FACE_PX:
        return (
            f"face too small for a reference ({face.size_px} px < "
            f"{MIN_REFERENCE_FACE_PX} px); use a larger photo"
        )
    if min(face.box[2], face.box[3]) < face.size_px:
        # size_px is measured before the box is clipped to the photo.
        return "face cut off by the photo's edge; use a photo of the whole face"
    if face.sharpness < MIN_REFERENCE_SHARPNESS:
        return (
            f"face too blurred for a reference (sharpness {face.sharpness:.0f} < "
            f"{MIN_REFERENCE_SHARPNESS:g})"
        )
    return None


def _rejected(path: Path, reason: str, sha: str | None = None) -> _Checked:
    return _Checked(
        FileOutcome(path=path, outcome=Outcome.REJECTED, reason=reason, sha256=sha),
        None,
    )


def _duplicate(path: Path, sha: str, reason: str, ref_id: int | None) -> _Checked:
    outcome = FileOutcome(
        path=path,
        outcome=Outcome.DUPLICATE,
        reason=reason,
        sha256=sha,
        reference_id=ref_id,
    )
    return _Checked(outcome, None)


def _names(person: Person) -> set[str]:
    return {person.name.casefold(), *(a.casefold() for a in person.aliases)}


def _who(person: Person) -> str:
    return f"{person.name} (person {person.id})"


def _window(grant: Authorisation) -> str:
    start = grant.valid_from.isoformat() if grant.valid_from else "always"
    end = grant.valid_until.isoformat() if grant.valid_until else "open-ended"
    return f"{start} to {end}"


def _granted(account: str, grant: Authorisation) -> str:
    return (
        f"{account} holds authorisation {grant.id} for {grant.scope}, "
        f"valid {_window(grant)}"
    )


def _why_not(grant: Authorisation, missing: Sequence[Scope], at: dt.datetime) -> str:
    """Why a grant to the account does not cover what is missing at ``at``."""
    if grant.valid_from is not None and at < grant.valid_from:
        return f"authorisation {grant.id} starts at {grant.valid_from.isoformat()}"
    if grant.valid_until is not None and at >= grant.valid_until:
        return f"authorisation {grant.id} ended at {grant.valid_until.isoformat()}"
    needed = " and ".join(str(s) for s in missing)
    return f"authorisation {grant.id} covers {grant.scope}, not {needed}"
