"""The likeness registry service: enrolment rules, accounts and grants.

Real engines on real media: faces from ../shared/data/faces, voices from
../shared/data/voices (tests skip when it is absent), and generated photos and
clips for what the shared data lacks (no face, blur, silence, music, damage).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageFilter

from deepguard.config import Limits, Settings
from deepguard.errors import Conflict, InvalidSignal, NotFound
from deepguard.likeness.faces import FaceEngine
from deepguard.likeness.registry import (
    MIN_REFERENCE_FACE_PX,
    AccountStatus,
    Outcome,
    Registry,
    Standing,
)
from deepguard.likeness.voices import RATE, VoiceEngine
from deepguard.store.interface import Scope, Verification
from deepguard.store.memory import MemoryStore
from deepguard.store.sql import SqlStore
from media_factory import chords, write_image

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def face_engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="module")
def voice_engine() -> VoiceEngine:
    return VoiceEngine()


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    with MemoryStore() as opened:
        yield opened


@pytest.fixture
def registry(
    store: MemoryStore, face_engine: FaceEngine, voice_engine: VoiceEngine
) -> Registry:
    return Registry(
        store,
        faces=lambda: face_engine,
        voices=lambda: voice_engine,
        limits=Limits(),
    )


@pytest.fixture
def faces(shared_data: Path) -> Path:
    return shared_data / "faces"


@pytest.fixture
def voices(shared_data: Path) -> Path:
    return shared_data / "voices" / "librispeech_test-other"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_wav(path: Path, samples: npt.NDArray[np.float64]) -> Path:
    pcm = np.clip(samples * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def edited(src: Path, dst: Path, *, blur: float = 0, scale: float = 1) -> Path:
    """A copy of a photo, blurred (Gaussian radius in px) and/or scaled."""
    with Image.open(src) as im:
        out = im.convert("RGB")
    if scale != 1:
        size = (round(out.width * scale), round(out.height * scale))
        out = out.resize(size, Image.Resampling.LANCZOS)
    if blur:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    out.save(dst, "PNG")
    return dst


# faces


def test_clear_photos_are_enrolled_with_hash_box_and_quality(
    registry: Registry, store: MemoryStore, faces: Path
) -> None:
    obama = registry.add_person("Barack Obama")
    photos = [faces / "train/obama/obama.jpg", faces / "train/obama/obama2.jpg"]
    report = registry.enrol_faces(obama.id, photos)
    assert report.saved and report.modality == "face"
    assert [f.outcome for f in report.files] == [Outcome.ACCEPTED] * 2
    refs = store.face_references(person_id=obama.id)
    assert [r.id for r in refs] == list(report.reference_ids)
    for ref, photo, outcome in zip(refs, photos, report.files, strict=True):
        assert ref.sha256 == sha256(photo) == outcome.sha256
        assert ref.source == str(photo)
        assert ref.box[2] >= MIN_REFERENCE_FACE_PX
        assert 0.5 < ref.quality == outcome.quality <= 1.0
        assert outcome.message.startswith(f"{photo}: accepted (quality 0.")
    # Two photos of one man: close descriptors (dlib's same-person range).
    assert float(np.linalg.norm(refs[0].embedding - refs[1].embedding)) < 0.6


def test_a_failing_batch_writes_nothing_and_says_why_for_each_file(
    registry: Registry, store: MemoryStore, faces: Path, tmp_path: Path
) -> None:
    kit = registry.add_person("Kit Harington")
    revision = store.registry_revision()
    good = faces / "train/kit_harington/john1.jpeg"
    no_face = write_image(tmp_path / "landscape.png", "PNG", size=(640, 480))
    two = faces / "test/kit_with_rose.jpg"
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good.read_bytes()[:300])
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo at all\n")
    missing = tmp_path / "missing.jpg"
    report = registry.enrol_faces(kit.id, [good, no_face, two, corrupt, text, missing])
    assert not report.saved
    assert report.reference_ids == ()
    outcomes = {f.path: f for f in report.files}
    assert outcomes[good].outcome is Outcome.ACCEPTED  # checked, then not written
    assert outcomes[good].reference_id is None
    assert outcomes[no_face].reason == "no face found"
    assert outcomes[two].reason == "2 faces found; crop the photo to one person"
    assert outcomes[text].reason == "not an image Pillow can read"
    assert "cannot read" in (outcomes[missing].reason or "")
    assert (outcomes[corrupt].reason or "").startswith("damaged image header")
    assert [f.path for f in report.rejected] == [no_face, two, corrupt, text, missing]
    for rejected in report.rejected:
        assert rejected.message.startswith(f"{rejected.path}: rejected: ")
        assert "\n" not in rejected.message
    assert store.face_references(person_id=kit.id) == []
    assert store.registry_revision() == revision


def test_group_photo_is_refused(
    registry: Registry, store: MemoryStore, faces: Path
) -> None:
    obama = registry.add_person("Barack Obama")
    report = registry.enrol_faces(obama.id, [faces / "test/obama_and_biden.jpg"])
    [outcome] = report.files
    assert outcome.reason is not None
    assert outcome.reason.endswith(" faces found; crop the photo to one person")
    assert int(outcome.reason.split()[0]) >= 2
    assert store.face_references() == []


@pytest.mark.parametrize(
    ("blur", "scale", "reason"),
    [
        # Blurred until the engine itself gives up on the face.
        (6.0, 1.0, "face not usable: blurred (sharpness"),
        # Comparable at a pinch, but too soft to compare every upload against.
        (3.0, 1.0, "face too blurred for a reference (sharpness"),
        # A 73 px face: comparable, but below the reference minimum.
        (0.0, 0.3, "face too small for a reference (73 px < 80 px)"),
        # Too small for the detector to see at all.
        (0.0, 0.15, "no face found"),
    ],
)
def test_poor_faces_are_refused(
    registry: Registry,
    faces: Path,
    tmp_path: Path,
    blur: float,
    scale: float,
    reason: str,
) -> None:
    obama = registry.add_person("Barack Obama")
    photo = edited(
        faces / "train/obama/obama.jpg", tmp_path / "poor.png", blur=blur, scale=scale
    )
    report = registry.enrol_faces(obama.id, [photo])
    [outcome] = report.files
    assert outcome.outcome is Outcome.REJECTED
    assert outcome.reason is not None and outcome.reason.startswith(reason)
    assert not report.saved


def test_face_cut_off_by_the_edge_is_refused(registry: Registry, faces: Path) -> None:
    obama = registry.add_person("Barack Obama")
    report = registry.enrol_faces(obama.id, [faces / "extra_obama_partial_face.jpg"])
    assert [f.reason for f in report.files] == [
        "face cut off by the photo's edge; use a photo of the whole face"
    ]


def test_the_same_photo_is_reported_not_duplicated(
    registry: Registry, store: MemoryStore, faces: Path, tmp_path: Path
) -> None:
    rose = registry.add_person("Rose Leslie")
    first = faces / "train/rose_leslie/img1.jpg"
    [ref_id] = registry.enrol_faces(rose.id, [first]).reference_ids
    copy = shutil.copy(first, tmp_path / "renamed.jpg")
    second = faces / "train/rose_leslie/img2.jpg"
    again = tmp_path / "again.jpg"
    shutil.copy(second, again)
    report = registry.enrol_faces(rose.id, [copy, second, again])
    assert report.saved
    assert [f.outcome for f in report.files] == [
        Outcome.DUPLICATE,
        Outcome.ACCEPTED,
        Outcome.DUPLICATE,
    ]
    assert report.files[0].reason == f"already enrolled as reference {ref_id}"
    assert report.files[0].reference_id == ref_id
    assert report.files[2].reason == f"same content as {second}"
    assert [r.sha256 for r in store.face_references(person_id=rose.id)] == [
        sha256(first),
        sha256(second),
    ]
    # The same photo may still be a reference of someone else.
    other = registry.add_person("Someone Else")
    assert registry.enrol_faces(other.id, [first]).saved


def test_enrolling_for_nobody_is_not_found(registry: Registry, faces: Path) -> None:
    with pytest.raises(NotFound, match="no person with id 7"):
        registry.enrol_faces(7, [faces / "train/obama/obama.jpg"])


# voices


def test_speech_is_enrolled(
    registry: Registry, store: MemoryStore, voices: Path
) -> None:
    reader = registry.add_person("Reader 1688")
    clip = voices / "1688/1688-142285-0000.flac"
    report = registry.enrol_voices(reader.id, [clip])
    assert report.saved and report.modality == "voice"
    [outcome] = report.files
    assert outcome.outcome is Outcome.ACCEPTED
    assert outcome.speech_s is not None and outcome.speech_s >= 5
    [ref] = store.voice_references(person_id=reader.id)
    assert (ref.sha256, ref.source, ref.speech_s) == (
        sha256(clip),
        str(clip),
        outcome.speech_s,
    )
    assert abs(float(np.linalg.norm(ref.embedding)) - 1.0) < 1e-3


def test_clips_without_enough_speech_are_refused_and_nothing_is_written(
    registry: Registry, store: MemoryStore, voices: Path, tmp_path: Path
) -> None:
    reader = registry.add_person("Reader 1998")
    good = voices / "1998/1998-15444-0000.flac"
    silent = write_wav(tmp_path / "silence.wav", np.zeros(8 * RATE))
    music = write_wav(tmp_path / "music.wav", chords(8.0, seed=3))
    short = voices / "1688/1688-142285-0002.flac"  # 2.8 s of reading
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(good.read_bytes()[:2000])
    photo = write_image(tmp_path / "photo.png", "PNG")
    report = registry.enrol_voices(
        reader.id, [good, silent, music, short, truncated, photo]
    )
    assert not report.saved
    reasons = {f.path.name: f.reason for f in report.files}
    assert reasons["1998-15444-0000.flac"] is None
    assert reasons["silence.wav"] == "only 0.0 s of speech; at least 5 s needed"
    music_reason = reasons["music.wav"] or ""
    assert music_reason.startswith("only ")
    assert music_reason.endswith(" s of speech; at least 5 s needed")
    assert float(music_reason.split()[1]) < 1.0
    assert reasons["1688-142285-0002.flac"] in {
        f"only {s:.1f} s of speech; at least 5 s needed"
        for s in np.arange(1.5, 2.9, 0.1)
    }
    assert (reasons["truncated.flac"] or "").startswith("FFmpeg cannot open it")
    assert reasons["photo.png"] == "no audio stream"
    assert all("\n" not in f.message for f in report.files)
    assert store.voice_references() == []


# accounts and grants


def test_accounts_belong_to_one_person(registry: Registry) -> None:
    kit = registry.add_person("Kit Harington")
    rose = registry.add_person("Rose Leslie")
    account = registry.add_account(kit.id, "Douyin", "@KitH")
    assert str(account) == "douyin:KitH"
    with pytest.raises(Conflict, match="already registered to person"):
        registry.add_account(rose.id, "douyin", "kith")
    with pytest.raises(NotFound, match="not registered to person"):
        registry.remove_account(rose.id, "douyin", "KitH")
    registry.remove_account(kit.id, "DOUYIN", "@kith")
    assert registry.show(kit.id).accounts == ()
    registry.add_account(rose.id, "douyin", "kith")  # free again
    with pytest.raises(InvalidSignal, match="handle"):
        registry.add_account(rose.id, "douyin", "two words")


def status(
    registry: Registry, account: str, person_id: int, scope: str, at: dt.datetime
) -> AccountStatus:
    platform, handle = account.split(":")
    return registry.account_status(platform, handle, person_id, scope, at)


def test_official_account_may_use_the_likeness(registry: Registry) -> None:
    kit = registry.add_person("Kit Harington")
    registry.add_account(kit.id, "douyin", "KitH")
    got = status(registry, "Douyin:@kith", kit.id, "both", T0)
    assert got.status is Standing.OFFICIAL and got.allowed
    assert got.reasons == (
        f"douyin:kith is an official account of Kit Harington (person {kit.id})",
    )


def test_grants_authorise_within_their_window_and_scope(registry: Registry) -> None:
    rose = registry.add_person("Rose Leslie")
    face = registry.authorise(
        rose.id, "douyin:shop", "face", valid_from=T0, valid_until=T0 + 30 * DAY
    )
    got = status(registry, "douyin:SHOP", rose.id, "face", T0 + DAY)
    assert got.status is Standing.AUTHORISED and got.grant == face
    assert got.reasons == (
        f"douyin:SHOP holds authorisation {face.id} for face, valid "
        "2026-03-01T00:00:00+00:00 to 2026-03-31T00:00:00+00:00",
    )
    voice_use = status(registry, "douyin:shop", rose.id, "voice", T0 + DAY)
    assert voice_use.status is Standing.UNAUTHORISED and not voice_use.allowed
    assert f"authorisation {face.id} covers face, not voice" in voice_use.reasons
    assert voice_use.lapsed == ()
    both = status(registry, "douyin:shop", rose.id, "both", T0 + DAY)
    assert both.status is Standing.UNAUTHORISED
    assert f"authorisation {face.id} covers face, not voice" in both.reasons
    early = status(registry, "douyin:shop", rose.id, "face", T0 - DAY)
    assert early.status is Standing.UNAUTHORISED and early.lapsed == (face,)
    assert f"authorisation {face.id} starts at 2026-03-01T00:00:00+00:00" in (
        early.reasons
    )
    late = status(registry, "douyin:shop", rose.id, "face", T0 + 30 * DAY)
    assert late.status is Standing.UNAUTHORISED and late.lapsed == (face,)
    assert f"authorisation {face.id} ended at 2026-03-31T00:00:00+00:00" in (
        late.reasons
    )
    # A voice grant next to the face grant covers "both" together.
    voice = registry.authorise(rose.id, "douyin:shop", Scope.VOICE)
    together = status(registry, "douyin:shop", rose.id, "both", T0 + DAY)
    assert together.status is Standing.AUTHORISED
    assert together.grants == (face, voice)


def test_other_accounts_and_licensees_are_not_authorised(registry: Registry) -> None:
    rose = registry.add_person("Rose Leslie")
    kit = registry.add_person("Kit Harington")
    registry.add_account(kit.id, "weibo", "kit")
    registry.authorise(rose.id, "Weibo Media Ltd", "both", note="licence 12")
    registry.authorise(kit.id, "weibo:fan", "both")  # Kit's grant, not Rose's
    someone = status(registry, "weibo:fan", rose.id, "face", T0)
    assert someone.status is Standing.UNAUTHORISED
    assert someone.reasons == (
        f"weibo:fan is not an official account of Rose Leslie (person {rose.id})",
        f"it holds no authorisation from Rose Leslie (person {rose.id})",
    )
    kits = status(registry, "weibo:KIT", rose.id, "face", T0)
    assert f"it is an official account of Kit Harington (person {kit.id})" in (
        kits.reasons
    )
    assert json.loads(json.dumps(kits.to_dict()))["status"] == "unauthorised"
    with pytest.raises(NotFound):
        status(registry, "weibo:fan", 99, "face", T0)
    with pytest.raises(InvalidSignal, match="unknown scope"):
        status(registry, "weibo:fan", rose.id, "smell", T0)


def test_revoked_grant_no_longer_authorises(registry: Registry) -> None:
    rose = registry.add_person("Rose Leslie")
    grant = registry.authorise(rose.id, "x:fan", "face")
    assert status(registry, "x:fan", rose.id, "face", T0).allowed
    assert registry.revoke(grant.id) == grant
    assert not status(registry, "x:fan", rose.id, "face", T0).allowed
    with pytest.raises(NotFound):
        registry.revoke(grant.id)
    with pytest.raises(InvalidSignal, match="ends"):
        registry.authorise(rose.id, "x:fan", "face", valid_from=T0, valid_until=T0)


# people


def test_show_list_find_and_remove(
    registry: Registry, store: MemoryStore, faces: Path
) -> None:
    kit = registry.add_person(
        "Kit Harington",
        aliases=["Jon Snow"],
        notes="actor",
        verification="document_checked",
    )
    assert kit.verification is Verification.DOCUMENT_CHECKED
    rose = registry.add_person("Rose Leslie")
    registry.enrol_faces(kit.id, [faces / "train/kit_harington/john2.jpeg"])
    registry.add_account(kit.id, "douyin", "kith")
    registry.authorise(kit.id, "Acme Ltd", "voice")
    detail = registry.show(kit.id)
    assert detail.person == kit == registry.person(kit.id)
    assert (len(detail.faces), len(detail.voices)) == (1, 0)
    assert [str(a) for a in detail.accounts] == ["douyin:kith"]
    assert [g.grantee for g in detail.authorisations] == ["Acme Ltd"]
    document = json.loads(json.dumps(detail.to_dict()))
    assert document["aliases"] == ["Jon Snow"]
    assert "embedding" not in document["faces"][0]
    assert registry.list() == [kit, rose]
    assert registry.find("jon") == [kit]
    revision = store.registry_revision()
    registry.remove(kit.id)
    assert store.registry_revision() > revision
    assert registry.list() == [rose]
    assert store.face_references() == []
    assert store.owner_of(platform="douyin", handle="kith") is None
    with pytest.raises(NotFound):
        registry.show(kit.id)
    with pytest.raises(InvalidSignal, match="unknown verification"):
        registry.add_person("X", verification="famous")


def test_engines_are_built_once_and_only_when_needed(
    store: MemoryStore, face_engine: FaceEngine, faces: Path
) -> None:
    built: list[str] = []

    def build_faces() -> FaceEngine:
        built.append("faces")
        return face_engine

    def build_voices() -> VoiceEngine:
        built.append("voices")
        return VoiceEngine()

    registry = Registry(store, faces=build_faces, voices=build_voices, limits=Limits())
    obama = registry.add_person("Barack Obama")
    registry.add_account(obama.id, "x", "obama")
    registry.authorise(obama.id, "x:fan", "face")
    assert built == []
    registry.enrol_faces(obama.id, [faces / "train/obama/obama.jpg"])
    registry.enrol_faces(obama.id, [faces / "train/obama/obama2.jpg"])
    assert built == ["faces"]


def test_registry_over_sqlite_for_settings(
    tmp_path: Path, faces: Path, face_engine: FaceEngine
) -> None:
    settings = Settings(home=tmp_path / "home")
    with SqlStore.open(f"sqlite:///{tmp_path / 'deepguard.db'}") as store:
        registry = Registry.for_store(store, settings)
        biden = registry.add_person("Joe Biden")
        photos = [faces / "train/biden/biden.jpg", faces / "train/biden/biden2.jpg"]
        report = registry.enrol_faces(biden.id, photos)
        assert report.saved and len(report.reference_ids) == 2
        [a, b] = registry.show(biden.id).faces
        assert float(np.linalg.norm(a.embedding - b.embedding)) < 0.6
        failed = registry.enrol_faces(biden.id, [faces / "test/obama_and_biden.jpg"])
        assert not failed.saved
        assert len(store.face_references()) == 2
