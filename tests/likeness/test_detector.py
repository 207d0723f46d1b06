"""The likeness detector end to end: enrol, scan, flag the unauthorised uploader.

Real faces and voices from ../shared/data; the registry is the in-memory store
(the same contract as SQLite and PostgreSQL, tested in tests/store).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from deepguard.accounts import AccountRef
from deepguard.cli.main import main
from deepguard.config import Limits
from deepguard.likeness.detector import LikenessDetector
from deepguard.likeness.faces import FaceEngine
from deepguard.likeness.finder import LikenessFinder
from deepguard.likeness.registry import Registry
from deepguard.likeness.voices import RATE, VoiceEngine, load_voice
from deepguard.media.item import MediaItem
from deepguard.scan.finding import Finding
from deepguard.scan.verdict import decide
from deepguard.store import MemoryStore

LIMITS = Limits()
NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
SELLER = AccountRef.parse("douyin:@seller")


@pytest.fixture(scope="module")
def engines() -> tuple[FaceEngine, VoiceEngine]:
    return FaceEngine(), VoiceEngine()


@pytest.fixture
def setup(
    shared_data: Path, engines: tuple[FaceEngine, VoiceEngine]
) -> tuple[Registry, LikenessDetector]:
    faces, voices = engines
    store = MemoryStore()
    registry = Registry(
        store, faces=lambda: faces, voices=lambda: voices, limits=LIMITS
    )
    train = shared_data / "faces" / "train"
    for name, folder in (("Barack Obama", "obama"), ("Joe Biden", "biden")):
        person, reports = registry.enrol_person(
            name, faces=sorted((train / folder).iterdir())
        )
        assert person is not None, [r.to_dict() for r in reports]
    finder = LikenessFinder(store, faces=lambda: faces, voices=lambda: voices)
    return registry, LikenessDetector.over(registry, finder, now=lambda: NOW)


def scan(detector: LikenessDetector, path: Path, uploader: AccountRef | None = None):
    item = MediaItem.open(path)
    item.uploader = uploader
    return detector.run(item)


def people_in(findings: list[Finding], kind: str = "likeness.face") -> list[str]:
    return sorted(f.details["person"] for f in findings if f.kind == kind)


def test_test_photos_find_every_enrolled_person_and_nobody_else(
    shared_data: Path, setup: tuple[Registry, LikenessDetector]
) -> None:
    _, detector = setup
    test = shared_data / "faces" / "test"
    assert people_in(scan(detector, test / "obama_and_biden.jpg")) == [
        "Barack Obama",
        "Joe Biden",
    ]
    assert people_in(scan(detector, test / "obama1.jpg")) == ["Barack Obama"]
    for stranger in ("kit_with_rose.jpg", "alex_lacamoire1.jpg", "johnsnow_test1.jpg"):
        assert people_in(scan(detector, test / stranger)) == [], stranger


def test_unauthorised_uploader_is_flagged_and_the_verdict_lists_it(
    shared_data: Path, setup: tuple[Registry, LikenessDetector]
) -> None:
    _, detector = setup
    findings = scan(detector, shared_data / "faces/test/obama1.jpg", SELLER)
    [flag] = [f for f in findings if f.kind == "impersonation"]
    assert flag.details["person"] == "Barack Obama"
    assert flag.details["account"] == "douyin:seller"
    assert flag.details["account_status"] == "unauthorised"
    verdict = decide(findings)
    [entry] = verdict.impersonation
    assert entry.evidence == "face" and entry.ai_label is None
    assert entry.reasons[-1] == "no AI label or generation trace found in the file"
    assert any("not an official account" in r for r in entry.reasons)


def test_official_and_licensed_accounts_are_not_flagged_until_the_licence_ends(
    shared_data: Path, setup: tuple[Registry, LikenessDetector]
) -> None:
    registry, detector = setup
    photo = shared_data / "faces/test/obama1.jpg"
    obama = registry.resolve("Barack Obama")
    registry.add_account(obama.id, "weibo", "@BarackObama")
    official = scan(detector, photo, AccountRef.parse("Weibo:barackobama"))
    assert not [f for f in official if f.kind == "impersonation"]

    shop = AccountRef.parse("douyin:licensed_shop")
    registry.authorise(
        obama.id,
        str(shop),
        "face",
        valid_from=NOW - dt.timedelta(days=30),
        valid_until=NOW + dt.timedelta(days=1),
    )
    assert not [f for f in scan(detector, photo, shop) if f.kind == "impersonation"]

    old = AccountRef.parse("douyin:old_shop")
    registry.authorise(
        obama.id, str(old), "both", valid_until=NOW - dt.timedelta(days=1)
    )
    [flag] = [f for f in scan(detector, photo, old) if f.kind == "impersonation"]
    assert flag.details["account_status"] == "expired"


def test_a_scan_without_an_account_reports_appearances_only(
    shared_data: Path, setup: tuple[Registry, LikenessDetector]
) -> None:
    _, detector = setup
    findings = scan(detector, shared_data / "faces/test/obama1.jpg")
    assert [f.kind for f in findings] == ["likeness.face"]
    assert decide(findings).impersonation == ()


def test_small_faces_are_reported_not_comparable(
    tmp_path: Path, shared_data: Path, setup: tuple[Registry, LikenessDetector]
) -> None:
    _, detector = setup
    face = Image.open(shared_data / "faces/train/obama/obama.jpg").convert("RGB")
    face.thumbnail((60, 60))
    canvas = Image.new("RGB", (1280, 720), (90, 110, 100))
    canvas.paste(face, (600, 300))
    path = tmp_path / "crowd.png"
    canvas.save(path)
    findings = scan(detector, path, SELLER)
    kinds = [f.kind for f in findings]
    assert "impersonation" not in kinds
    if kinds:  # the detector may not see a face this small at all
        [seen] = findings
        assert seen.kind == "likeness.not_comparable"
        assert "too small" in seen.summary


def write_clip(path: Path, head: Image.Image, seconds: float, fps: int = 10) -> Path:
    rng = np.random.default_rng(1)
    noise = (rng.random((9, 16, 3)) * 255).astype(np.uint8)
    background = Image.fromarray(noise).resize((1280, 720), Image.Resampling.BILINEAR)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(round(seconds * fps)):
            frame = background.copy()
            t = i / fps
            if 1.0 <= t < 4.0:
                frame.paste(head, (200 + int(60 * t), 150))
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_video_appearance_has_times_and_a_box(
    tmp_path: Path, shared_data: Path, setup: tuple[Registry, LikenessDetector]
) -> None:
    _, detector = setup
    photo = Image.open(shared_data / "faces/train/biden/biden2.jpg").convert("RGB")
    head = photo.crop((300, 150, 1000, 950)).resize((300, 340))
    clip = write_clip(tmp_path / "biden.mp4", head, 6.0)
    findings = scan(detector, clip, SELLER)
    [seen] = [f for f in findings if f.kind == "likeness.face"]
    assert seen.details["person"] == "Joe Biden"
    # Sampled at 2 fps: the head is on screen from 1.0 s to 4.0 s.
    assert 0.5 <= seen.details["start_s"] <= 1.5
    assert 3.0 <= seen.details["end_s"] <= 4.0
    assert len(seen.details["box"]) == 4
    assert [f.details["person"] for f in findings if f.kind == "impersonation"] == [
        "Joe Biden"
    ]


def speech(shared_data: Path, speaker: str, count: int) -> np.ndarray:
    folder = shared_data / "voices" / "librispeech_test-other" / speaker
    clips = sorted(folder.glob("*.flac"))[:count]
    return np.concatenate([load_voice(c, limits=LIMITS) for c in clips])


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=RATE, layout="mono")
        pcm = np.clip(samples * 32767, -32768, 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            pcm.reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_voice_is_found_in_time_in_audio(
    tmp_path: Path, shared_data: Path, setup: tuple[Registry, LikenessDetector]
) -> None:
    registry, detector = setup
    speakers = sorted(
        p.name
        for p in (shared_data / "voices/librispeech_test-other").iterdir()
        if p.is_dir()
    )
    target, other = speakers[0], speakers[1]
    enrol = write_wav(tmp_path / "enrol.wav", speech(shared_data, target, 3))
    obama = registry.resolve("Barack Obama")
    report = registry.enrol_voices(obama.id, [enrol])
    assert report.saved, report.to_dict()

    folder = shared_data / "voices/librispeech_test-other"
    held_out = sorted((folder / target).glob("*.flac"))[5]
    stranger = speech(shared_data, other, 1)
    mixed = np.concatenate([stranger, load_voice(held_out, limits=LIMITS)])
    path = write_wav(tmp_path / "mixed.wav", mixed)
    findings = scan(detector, path, SELLER)
    voices = [f for f in findings if f.kind == "likeness.voice"]
    assert voices, [f.summary for f in findings]
    assert {f.details["person"] for f in voices} == {"Barack Obama"}
    boundary = stranger.size / RATE
    assert max(f.details["end_s"] for f in voices) > boundary
    [flag] = [f for f in findings if f.kind == "impersonation"]
    assert flag.details["evidence"] == "voice"


def test_empty_registry_loads_no_model(tmp_path: Path) -> None:
    store = MemoryStore()

    def refuse() -> FaceEngine:
        raise AssertionError("no model should load for an empty registry")

    def no_registry() -> Registry:
        raise AssertionError("the registry (and its engines) should not load")

    finder = LikenessFinder(store, faces=refuse, voices=refuse)  # type: ignore[arg-type]
    detector = LikenessDetector(lambda: finder, no_registry)
    image = tmp_path / "x.png"
    Image.new("RGB", (64, 64)).save(image)
    assert detector.run(MediaItem.open(image)) == []
    clip = write_wav(tmp_path / "x.wav", np.zeros(RATE, np.float32))
    assert (
        detector.run(
            MediaItem.open(clip),
        )
        == []
    )


def test_cli_people_then_scan_with_account(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(tmp_path / "home")]
    train = shared_data / "faces/train/obama"
    faces = [arg for p in sorted(train.iterdir()) for arg in ("--face", str(p))]
    add = ["people", "add", "Barack Obama", "--account", "weibo:@obama", *faces]
    assert main([*home, *add]) == 0
    two = shared_data / "faces/test/obama_and_biden.jpg"
    assert main([*home, "people", "add", "Group", "--face", str(two)]) == 1
    capsys.readouterr()
    assert main([*home, "people", "list", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == ["Barack Obama"]  # nothing half-enrolled
    assert rows[0]["faces"] == 2 and rows[0]["accounts"] == ["weibo:obama"]

    photo = shared_data / "faces/test/obama1.jpg"
    scan_args = ["scan", str(photo), "--json", "--no-store", "-d", "likeness"]
    assert main([*home, *scan_args, "--account", "weibo:@Obama"]) == 0
    [own] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert own["verdict"]["impersonation"] == []
    assert main([*home, *scan_args, "--account", "douyin:@fake"]) == 0
    [fake] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    [entry] = fake["verdict"]["impersonation"]
    assert entry["person"] == "Barack Obama" and entry["account"] == "douyin:fake"
    assert main([*home, *scan_args, "--account", "no-colon"]) == 2
    assert "PLATFORM:HANDLE" in capsys.readouterr().err
