"""Face detection, alignment, descriptors and quality on real photos.

The photos are ../shared/data/faces (5 people). Measured when these tests were
written, with the default engine: same-person descriptor distances on the
train photos 0.356-0.404, different people 0.778-1.018 (dlib's usual match
threshold is 0.6); the 240p-1080p copies of one photo are 0.065-0.141 apart.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageFilter

from deepguard.config import Limits
from deepguard.errors import ConfigError, DeepguardError, DependencyError
from deepguard.likeness import _models
from deepguard.likeness.faces import (
    EMBEDDING_DIM,
    Face,
    FaceEngine,
    load_faces,
)
from deepguard.media.image import load_image
from media_factory import gradient

LIMITS = Limits()
MATCH = 0.6
"""dlib's published operating point, used here only to name identities."""

TRAIN = {
    "alex_lacamoire": ["img1.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
    "kit_harington": ["john1.jpeg", "john2.jpeg"],
    "obama": ["obama.jpg", "obama2.jpg"],
    "rose_leslie": ["img1.jpg", "img2.jpg"],
}

Analyse = Callable[[str], list[Face]]


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="module")
def faces_of(shared_data: Path, engine: FaceEngine) -> Analyse:
    """Faces of a photo under ``faces/``, analysed once per module."""
    cache: dict[str, list[Face]] = {}

    def get(rel: str) -> list[Face]:
        if rel not in cache:
            cache[rel] = load_faces(
                shared_data / "faces" / rel, limits=LIMITS, engine=engine
            )
        return cache[rel]

    return get


@pytest.fixture(scope="module")
def train(faces_of: Analyse) -> dict[str, list[npt.NDArray[np.float32]]]:
    """Each person's train descriptors."""
    out: dict[str, list[npt.NDArray[np.float32]]] = {}
    for person, files in TRAIN.items():
        for name in files:
            (face,) = faces_of(f"train/{person}/{name}")
            assert face.embedding is not None
            out.setdefault(person, []).append(face.embedding)
    return out


def distance(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.linalg.norm(a - b))


def identify(
    face: Face, train: dict[str, list[npt.NDArray[np.float32]]]
) -> tuple[str, float]:
    """The nearest train person and the distance to their closest photo."""
    assert face.embedding is not None
    emb = face.embedding
    return min(
        ((p, min(distance(emb, e) for e in es)) for p, es in train.items()),
        key=lambda pd: pd[1],
    )


def rgb_of(path: Path) -> npt.NDArray[np.uint8]:
    return np.asarray(load_image(path, limits=LIMITS), dtype=np.uint8)


# --- real photos ----------------------------------------------------------


@pytest.mark.parametrize(
    "rel", [f"train/{p}/{n}" for p, names in TRAIN.items() for n in names]
)
def test_each_train_photo_has_one_comparable_face(faces_of: Analyse, rel: str) -> None:
    (face,) = faces_of(rel)
    assert face.comparable, face.not_comparable
    assert face.frontal
    assert face.embedding is not None
    assert face.embedding.dtype == np.float32
    assert face.embedding.shape == (EMBEDDING_DIM,)
    assert len(face.landmarks) == 5
    left, top, width, height = face.box
    # The landmarks (eye corners, base of the nose) lie inside the face box.
    for x, y in face.landmarks:
        assert left <= x <= left + width
        assert top <= y <= top + height
    assert face.size_px >= 100
    assert 0.5 < face.quality <= 1.0


def test_same_person_closer_than_different_people(
    train: dict[str, list[npt.NDArray[np.float32]]],
) -> None:
    labelled = [(p, e) for p, es in train.items() for e in es]
    genuine, impostor = [], []
    for (pa, ea), (pb, eb) in itertools.combinations(labelled, 2):
        (genuine if pa == pb else impostor).append(distance(ea, eb))
    assert len(genuine) == 4
    assert len(impostor) == 32
    assert max(genuine) < MATCH < min(impostor)


@pytest.mark.parametrize(
    ("rel", "person"),
    [
        ("test/obama1.jpg", "obama"),
        ("test/alex_lacamoire1.jpg", "alex_lacamoire"),
        ("test/johnsnow_test1.jpg", "kit_harington"),
    ],
)
def test_single_test_photos_identify(
    faces_of: Analyse,
    train: dict[str, list[npt.NDArray[np.float32]]],
    rel: str,
    person: str,
) -> None:
    (face,) = faces_of(rel)
    who, dist = identify(face, train)
    assert who == person
    assert dist < MATCH


def test_obama_and_biden(
    faces_of: Analyse, train: dict[str, list[npt.NDArray[np.float32]]]
) -> None:
    faces = faces_of("test/obama_and_biden.jpg")
    # Three faces: the two men, and a girl at the bottom right looking down,
    # smaller, found with a weak detector score. Largest first.
    assert len(faces) == 3
    assert [f.size_px for f in faces] == sorted(
        (f.size_px for f in faces), reverse=True
    )
    biden, obama = sorted(faces[:2], key=lambda f: f.box[0])
    assert identify(biden, train)[0] == "biden"
    assert identify(obama, train)[0] == "obama"
    assert identify(biden, train)[1] < MATCH
    assert identify(obama, train)[1] < MATCH
    girl = faces[2]
    assert girl.box[0] > obama.box[0]
    assert girl.box[1] > obama.box[1] + obama.box[3]
    assert girl.detector_score < min(biden.detector_score, obama.detector_score)
    assert girl.quality < min(biden.quality, obama.quality)
    # She is comparable, and matches nobody enrolled.
    assert girl.comparable
    assert identify(girl, train)[1] > MATCH


def test_kit_with_rose(
    faces_of: Analyse, train: dict[str, list[npt.NDArray[np.float32]]]
) -> None:
    faces = faces_of("test/kit_with_rose.jpg")
    assert len(faces) == 2
    assert all(f.comparable for f in faces)
    rose, kit = sorted(faces, key=lambda f: f.box[0])
    assert identify(rose, train) < ("rose_leslie", MATCH)
    assert identify(kit, train) < ("kit_harington", MATCH)
    assert identify(rose, train)[0] == "rose_leslie"
    assert identify(kit, train)[0] == "kit_harington"


def test_two_people_side_by_side(
    faces_of: Analyse, train: dict[str, list[npt.NDArray[np.float32]]]
) -> None:
    left, right = sorted(faces_of("extra_two_people.jpg"), key=lambda f: f.box[0])
    assert identify(left, train)[0] == "obama"
    assert identify(right, train)[0] == "biden"


def test_resolutions_agree(
    faces_of: Analyse, train: dict[str, list[npt.NDArray[np.float32]]]
) -> None:
    embeddings = []
    sizes = []
    for res in ("240p", "480p", "720p", "1080p"):
        (face,) = faces_of(f"extra_obama-{res}.jpg")
        assert face.comparable, face.not_comparable
        assert face.embedding is not None
        assert identify(face, train)[0] == "obama"
        embeddings.append(face.embedding)
        sizes.append(face.size_px)
    assert sizes == sorted(sizes)
    for a, b in itertools.combinations(embeddings, 2):
        assert distance(a, b) < 0.2


@pytest.mark.parametrize(
    "rel",
    [
        "extra_obama_small.jpg",
        "extra_obama3.jpg",
        "extra_obama_partial_face.jpg",
        "extra_obama_partial_face2.jpg",
    ],
)
def test_small_and_partial_obama(
    shared_data: Path,
    faces_of: Analyse,
    train: dict[str, list[npt.NDArray[np.float32]]],
    rel: str,
) -> None:
    # What really happens: each of these still shows enough of the face (the
    # "partial" crops cut the shoulder and half the head, not the eyes and
    # nose), so each is one comparable face that identifies as Obama.
    (face,) = faces_of(rel)
    assert face.comparable, face.not_comparable
    assert identify(face, train) < ("obama", MATCH)
    with Image.open(shared_data / "faces" / rel) as image:
        width, height = image.size
    left, top, w, h = face.box
    assert left >= 0
    assert left + w <= width
    assert top >= 0
    assert top + h <= height


def test_partial_face_box_is_clipped_to_the_image(faces_of: Analyse) -> None:
    (face,) = faces_of("extra_obama_partial_face.jpg")
    # The detector's box runs off the left edge; the reported box is clipped,
    # the size is the detector's (unclipped) face size.
    assert face.box[0] == 0
    assert face.size_px > face.box[2]


# --- generated conditions -------------------------------------------------


@pytest.fixture(scope="module")
def obama(shared_data: Path, engine: FaceEngine) -> tuple[npt.NDArray[np.uint8], Face]:
    rgb = rgb_of(shared_data / "faces/train/obama/obama.jpg")
    (face,) = engine.analyse(rgb)
    return rgb, face


def head_crop(rgb: npt.NDArray[np.uint8], face: Face) -> Image.Image:
    left, top, width, height = face.box
    return Image.fromarray(rgb).crop(
        (
            left - width // 2,
            top - height // 2,
            left + 3 * width // 2,
            top + 3 * height // 2,
        )
    )


def test_no_face(engine: FaceEngine) -> None:
    assert engine.analyse(np.asarray(gradient(640, 480, seed=3))) == []
    assert engine.analyse(np.zeros((480, 640, 3), dtype=np.uint8)) == []


def test_tiny_face_is_seen_but_too_small(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine
) -> None:
    rgb, face = obama
    crop = head_crop(rgb, face)
    scale = 32 / face.size_px
    small = crop.resize(
        (round(crop.width * scale), round(crop.height * scale)),
        Image.Resampling.LANCZOS,
    )
    canvas = gradient(640, 360, seed=1)
    canvas.paste(small, (300, 150))
    pixels = np.asarray(canvas)
    # The default detector does not even see a face this small...
    assert engine.analyse(pixels) == []
    # ...one that upsamples once does, and reports it instead of dropping it.
    (tiny,) = FaceEngine(upsample=1).analyse(pixels)
    assert not tiny.comparable
    assert tiny.embedding is None
    assert tiny.size_px < 40
    assert tiny.not_comparable == f"too small ({tiny.size_px} px < 40 px)"
    assert 290 < tiny.box[0] < 330


def test_minimum_size_is_configurable(
    obama: tuple[npt.NDArray[np.uint8], Face],
) -> None:
    rgb, face = obama
    crop = head_crop(rgb, face)
    scale = 85 / face.size_px
    small = crop.resize(
        (round(crop.width * scale), round(crop.height * scale)),
        Image.Resampling.LANCZOS,
    )
    canvas = gradient(1280, 720, seed=2)
    canvas.paste(small, (600, 300))
    pixels = np.asarray(canvas)
    (strict,) = FaceEngine(min_face_px=100).analyse(pixels)
    assert strict.not_comparable is not None
    assert strict.not_comparable.startswith("too small (")
    assert strict.not_comparable.endswith(" px < 100 px)")
    (default,) = FaceEngine().analyse(pixels)
    assert default.comparable
    assert default.size_px == strict.size_px


@pytest.mark.parametrize("whole_image", [True, False])
def test_blurred_face(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine, whole_image: bool
) -> None:
    rgb, face = obama
    left, top, width, height = face.box
    image = Image.fromarray(rgb)
    blur = ImageFilter.GaussianBlur(0.03 * width)
    if whole_image:
        image = image.filter(blur)
    else:
        # Only the face: the sharp background around it must not count.
        region = (
            left - width // 4,
            top - height // 4,
            left + width * 5 // 4,
            top + height * 5 // 4,
        )
        image.paste(image.crop(region).filter(blur), region[:2])
    (blurred,) = engine.analyse(np.asarray(image))
    assert blurred.not_comparable is not None
    assert blurred.not_comparable.startswith("blurred (sharpness ")
    assert blurred.embedding is None
    assert blurred.sharpness < engine.min_sharpness < face.sharpness
    assert blurred.quality < face.quality


def test_slight_blur_is_still_comparable(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine
) -> None:
    rgb, face = obama
    soft = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(0.01 * face.size_px))
    (found,) = engine.analyse(np.asarray(soft))
    assert found.comparable, found.not_comparable
    assert found.embedding is not None and face.embedding is not None
    assert distance(found.embedding, face.embedding) < 0.25


def test_mirrored_face_is_the_same_person(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine
) -> None:
    rgb, face = obama
    (mirrored,) = engine.analyse(np.ascontiguousarray(rgb[:, ::-1]))
    assert mirrored.embedding is not None and face.embedding is not None
    # A face is not symmetric, but far closer to itself than to anyone else.
    assert distance(mirrored.embedding, face.embedding) < 0.3
    # The same place, mirrored: the nose (landmark 4) within a tenth of the
    # face size (the detector's boxes sit on a coarse grid).
    width = rgb.shape[1]
    nose_x, nose_y = face.landmarks[4]
    mirrored_x, mirrored_y = mirrored.landmarks[4]
    assert abs(mirrored_x - (width - 1 - nose_x)) < 0.1 * face.size_px
    assert abs(mirrored_y - nose_y) < 0.1 * face.size_px


@pytest.mark.parametrize("angle", [15, -25])
def test_tilted_face_is_aligned(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine, angle: int
) -> None:
    rgb, face = obama
    tilted = Image.fromarray(rgb).rotate(
        angle, resample=Image.Resampling.BICUBIC, expand=True
    )
    (found,) = engine.analyse(np.asarray(tilted))
    assert found.embedding is not None and face.embedding is not None
    assert distance(found.embedding, face.embedding) < 0.15


def test_sideways_face_is_not_found(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine
) -> None:
    # dlib's HOG detector is trained on upright faces (roll up to about 30
    # degrees): a face turned by 90 degrees, mirrored or not, is not seen.
    # Decoded files are upright already (EXIF orientation is applied).
    rgb, _ = obama
    assert engine.analyse(np.ascontiguousarray(np.rot90(rgb))) == []
    mirrored_sideways = np.ascontiguousarray(np.rot90(rgb[:, ::-1], -1))
    assert engine.analyse(mirrored_sideways) == []
    upright_again = np.ascontiguousarray(np.rot90(mirrored_sideways))
    assert len(engine.analyse(upright_again)) == 1


def test_turned_face_reported_as_profile(faces_of: Analyse, shared_data: Path) -> None:
    # john2 is a three-quarter view: the base of the nose sits 0.16 of the eye
    # distance off centre. Frontal under the default limit (0.25), profile
    # under a strict one, and then reported, not dropped.
    (default,) = faces_of("train/kit_harington/john2.jpeg")
    assert default.frontal
    strict = load_faces(
        shared_data / "faces/train/kit_harington/john2.jpeg",
        limits=LIMITS,
        engine=FaceEngine(max_yaw=0.05),
    )
    (face,) = strict
    assert not face.frontal
    assert face.not_comparable is not None
    assert face.not_comparable.startswith("profile (yaw 0.1")
    assert face.embedding is None
    assert face.quality < default.quality


def test_embed_box_matches_analyse(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine
) -> None:
    rgb, face = obama
    again = engine.embed_box(rgb, face.box, detector_score=face.detector_score)
    assert again.embedding is not None and face.embedding is not None
    assert distance(again.embedding, face.embedding) < 1e-5
    assert again.landmarks == face.landmarks
    quick = engine.embed_box(rgb, face.box, embed=False)
    assert quick.comparable
    assert quick.embedding is None
    assert quick.sharpness == pytest.approx(face.sharpness)
    with pytest.raises(ValueError, match="empty"):
        engine.embed_box(rgb, (10, 10, 0, 5))


def test_face_to_dict_is_json(obama: tuple[npt.NDArray[np.uint8], Face]) -> None:
    _, face = obama
    data = json.loads(json.dumps(face.to_dict()))
    assert "embedding" not in data
    assert data["box"] == list(face.box)
    assert data["comparable"] is True
    assert data["not_comparable"] is None
    assert len(data["landmarks"]) == 5


def test_engine_shared_between_threads(
    obama: tuple[npt.NDArray[np.uint8], Face], engine: FaceEngine
) -> None:
    rgb, _ = obama
    small = np.ascontiguousarray(rgb[::2, ::2])
    expected = engine.analyse(small)
    results: list[list[Face]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(engine.analyse(small))
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results:
        assert [f.box for f in got] == [f.box for f in expected]
        for a, b in zip(got, expected, strict=True):
            assert a.embedding is not None and b.embedding is not None
            assert distance(a.embedding, b.embedding) < 1e-6


# --- bad input ------------------------------------------------------------


def test_bad_arrays(engine: FaceEngine) -> None:
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        engine.analyse(np.zeros((20, 20), dtype=np.uint8))
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        engine.analyse(np.zeros((20, 20, 3), dtype=np.float32))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xd8\xff\xe0 truncated jpeg", b"not an image at all"]
)
def test_bad_files_raise_one_line_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(data)
    with pytest.raises(DeepguardError) as info:
        load_faces(path, limits=LIMITS)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_engine_arguments_checked() -> None:
    with pytest.raises(ConfigError, match="min_face_px"):
        FaceEngine(min_face_px=0)
    with pytest.raises(ConfigError, match="upsample"):
        FaceEngine(upsample=7)


# --- model files ------------------------------------------------------------


def test_packaged_models_found() -> None:
    assert _models.shape_predictor_path().name == "shape_predictor_5_face_landmarks.dat"
    assert (
        _models.face_encoder_path().name == "dlib_face_recognition_resnet_model_v1.dat"
    )
    assert _models.voice_encoder_path().name == "pretrained.pt"


def test_68_point_model_refused_unread(tmp_path: Path) -> None:
    # The header of a 68-point dlib shape predictor: version 1, then the mean
    # shape's row count (-136) and column count (-1). Refused from the header
    # alone, so the model is never deserialised.
    fake = tmp_path / "landmarks.dat"
    fake.write_bytes(bytes([0x01, 0x01, 0x81, 0x88, 0x81, 0x01]) + bytes(64))
    with pytest.raises(ConfigError, match="68-point model") as info:
        FaceEngine(predictor_path=fake)
    assert str(fake) in str(info.value)


def test_missing_and_wrong_user_models(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        FaceEngine(predictor_path=tmp_path / "nope.dat")
    wrong = tmp_path / "encoder.dat"
    wrong.write_bytes(b"\x01\x01 something else entirely" + bytes(64))
    with pytest.raises(ConfigError, match="not a dlib face recognition model"):
        FaceEngine(encoder_path=wrong)
    with pytest.raises(ConfigError, match="not found"):
        _models.voice_encoder_path(tmp_path / "nope.pt")


def test_truncated_user_model_fails_on_first_use(tmp_path: Path) -> None:
    # A file with a valid 5-point header that stops early: accepted by the
    # cheap check, refused by dlib when first loaded, as a one-line error.
    packaged = _models.shape_predictor_path().read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(packaged[:4096])
    engine = FaceEngine(predictor_path=cut)
    with pytest.raises(ConfigError, match="dlib cannot load the model") as info:
        engine.analyse(np.zeros((64, 64, 3), dtype=np.uint8))
    assert str(cut) in str(info.value)
    assert "\n" not in str(info.value)


def test_corrupt_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "face_recognition_models"
    (folder / "models").mkdir(parents=True)
    packaged = _models.shape_predictor_path().read_bytes()
    (folder / "models/shape_predictor_5_face_landmarks.dat").write_bytes(packaged[:-10])
    monkeypatch.setattr(_models, "_package_dir", lambda package: folder)
    with pytest.raises(DependencyError, match="corrupt or modified"):
        _models.shape_predictor_path()
    with pytest.raises(DependencyError, match="missing"):
        _models.face_encoder_path()
