"""The FAISS likeness index: exact search, one match per person, persistence.

What is asserted:

* flat search returns exactly what a brute-force NumPy search returns (people
  over the threshold, each through their nearest reference, best first, at
  most k), for faces (Euclidean) and voices (cosine), also when one person's
  many references crowd out everyone else (property test);
* HNSW, forced or chosen above the flat limit, agrees with flat search on
  clustered data;
* an empty index matches nothing; save/load round-trips; a failed save
  leaves the previous index readable; every damaged or mismatched file is
  refused with a one-line error naming the file;
* on the shared photos, with the train photos enrolled and the default face
  calibration, every enrolled person in the test photos is found, the right
  one, and the unknown girl in obama_and_biden.jpg matches nobody.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepguard.likeness.index as index_module
from deepguard.config import Limits
from deepguard.errors import ConfigError, InvalidSignal, NotFound, StorageError
from deepguard.likeness.calibration import Calibration, default_calibration
from deepguard.likeness.index import LikenessIndex, Match, Reference

FACE_CAL = Calibration("face", 1e-3, 0.5, (0.62, 0.07), (0.12, 0.08), 0.5, "test")
VOICE_CAL = Calibration("voice", 1e-3, 0.75, (0.85, 0.05), (0.5, 0.07), 0.5, "test")


def clustered(
    modality: str,
    refs_per_person: Sequence[int],
    seed: int,
    *,
    spread: float = 0.04,
) -> tuple[list[Reference], npt.NDArray[np.float32]]:
    """References around one centre per person; returns them and the centres.

    Face centres lie about 0.9 apart (like different people), references
    within ``spread`` per dimension-scaled unit of their centre.
    """
    rng = np.random.default_rng(seed)
    dims = 128 if modality == "face" else 256
    centres = rng.normal(size=(len(refs_per_person), dims))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    if modality == "face":
        centres *= 0.64
    refs, ref_id = [], 100
    for person, count in enumerate(refs_per_person):
        for _ in range(count):
            noise = rng.normal(scale=spread / np.sqrt(dims) * 4, size=dims)
            refs.append(
                Reference(
                    person + 1, ref_id, (centres[person] + noise).astype(np.float32)
                )
            )
            ref_id += 1
    return refs, centres.astype(np.float32)


def brute_force(
    modality: str,
    refs: Sequence[Reference],
    calibration: Calibration,
    query: npt.NDArray[np.float32],
    k: int,
) -> list[tuple[int, int, float]]:
    """(person, ref, distance) the index must return, from first principles."""
    best: dict[int, tuple[float, int]] = {}
    for ref in refs:
        e = ref.embedding.astype(np.float64)
        q = query.astype(np.float64)
        if modality == "face":
            distance = float(np.linalg.norm(e - q))
        else:
            distance = 1.0 - float(e @ q / np.linalg.norm(e) / np.linalg.norm(q))
        if calibration.accepts(1.0 - distance) and (
            ref.person_id not in best or distance < best[ref.person_id][0]
        ):
            best[ref.person_id] = (distance, ref.ref_id)
    ranked = sorted(best.items(), key=lambda item: (item[1][0], item[0]))[:k]
    return [(person, ref_id, distance) for person, (distance, ref_id) in ranked]


def as_tuples(matches: list[Match]) -> list[tuple[int, int, float]]:
    return [(m.person_id, m.ref_id, m.distance) for m in matches]


def assert_same(got: list[Match], want: list[tuple[int, int, float]]) -> None:
    assert [(p, r) for p, r, _ in as_tuples(got)] == [(p, r) for p, r, _ in want]
    for match, (_, _, distance) in zip(got, want, strict=True):
        assert match.distance == pytest.approx(distance, abs=1e-4)


# --- search -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modality", "calibration"), [("face", FACE_CAL), ("voice", VOICE_CAL)]
)
def test_flat_search_equals_brute_force(
    modality: str, calibration: Calibration
) -> None:
    refs, centres = clustered(modality, [1, 3, 5, 2, 8, 1, 4], seed=1)
    index = LikenessIndex.build(modality, refs, calibration)
    rng = np.random.default_rng(2)
    queries = centres[rng.integers(0, len(centres), 40)]
    queries = queries + rng.normal(scale=0.02, size=queries.shape).astype(np.float32)
    queries = np.concatenate(
        [queries, rng.normal(size=(10, queries.shape[1])).astype(np.float32)]
    )
    results = index.search(queries, k=3)
    assert len(results) == len(queries)
    found = 0
    for query, matches in zip(queries, results, strict=True):
        assert_same(matches, brute_force(modality, refs, calibration, query, 3))
        for m in matches:
            assert m.score == pytest.approx(1.0 - m.distance)
            assert m.probability == calibration.probability(m.score)
        found += bool(matches)
    assert 40 <= found < 50  # every near query matched, the random ones not


def test_matches_are_one_per_person_best_first_and_at_most_k() -> None:
    # Two people near the query: person 1 with 30 references that are all
    # closer than person 2's single one. k=2 must still reach person 2.
    rng = np.random.default_rng(5)
    query = rng.normal(size=128).astype(np.float32)
    query *= 0.5 / np.linalg.norm(query)
    direction = rng.normal(size=128).astype(np.float32)
    direction /= np.linalg.norm(direction)
    refs = [Reference(1, i, query + direction * (0.05 + 0.001 * i)) for i in range(30)]
    refs.append(Reference(2, 99, query - direction * 0.3))
    refs.append(Reference(3, 98, query + direction * 0.9))  # over the threshold
    index = LikenessIndex.build("face", refs, FACE_CAL)
    [matches] = index.search(query, k=2)
    assert [(m.person_id, m.ref_id) for m in matches] == [(1, 0), (2, 99)]
    assert matches[0].distance == pytest.approx(0.05, abs=1e-4)
    assert matches[1].distance == pytest.approx(0.3, abs=1e-4)
    assert [m.person_id for m in index.search(query, k=1)[0]] == [1]
    assert [m.person_id for m in index.search(query, k=10)[0]] == [1, 2]


def crowded(
    modality: str, refs_per_person: Sequence[int], seed: int
) -> tuple[list[Reference], npt.NDArray[np.float32]]:
    """People close together, and queries among them, near the threshold.

    Distances spread across the threshold, so that a query matches anywhere
    from none to all of the people, and one person's references often crowd
    the nearest neighbours (measured on 300 seeds: 0 to 6 matches per query,
    all counts well represented).
    """
    rng = np.random.default_rng(seed)
    dims = 128 if modality == "face" else 256
    scale = (0.22 if modality == "face" else 0.45) / np.sqrt(dims)
    base = np.zeros(dims) if modality == "face" else rng.normal(size=dims)
    base /= max(1.0, float(np.linalg.norm(base)))
    centres = base + rng.normal(scale=scale, size=(len(refs_per_person), dims))
    refs: list[Reference] = []
    for person, count in enumerate(refs_per_person):
        for _ in range(count):
            noise = rng.normal(scale=scale * 0.6, size=dims)
            embedding = (centres[person] + noise).astype(np.float32)
            refs.append(Reference(person + 1, len(refs), embedding))
    picks = rng.integers(0, len(centres), 6)
    near = centres[picks] + rng.normal(scale=scale * 0.5, size=(6, dims))
    far = rng.normal(scale=3.0 / np.sqrt(dims), size=(2, dims))
    return refs, np.concatenate([near, far]).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 12), min_size=1, max_size=12),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["face", "voice"]),
)
def test_search_equals_brute_force_for_any_registry(
    refs_per_person: list[int], k: int, seed: int, modality: str
) -> None:
    refs, queries = crowded(modality, refs_per_person, seed)
    calibration = FACE_CAL if modality == "face" else VOICE_CAL
    index = LikenessIndex.build(modality, refs, calibration)
    for query, matches in zip(queries, index.search(queries, k=k), strict=True):
        want = brute_force(modality, refs, calibration, query, k)
        # Near-ties may swap within float error; compare distances, and
        # people and references when the distances are distinct.
        assert [round(m.distance, 3) for m in matches] == [
            round(d, 3) for *_, d in want
        ]
        if len({round(d, 4) for *_, d in want}) == len(want):
            assert_same(matches, want)


def test_voice_embeddings_are_compared_by_cosine() -> None:
    a = np.zeros(256, dtype=np.float32)
    a[0] = 1.0
    b = np.zeros(256, dtype=np.float32)
    b[:2] = [0.8, 0.6]  # cosine 0.8 with a
    index = LikenessIndex.build("voice", [Reference(7, 1, a)], VOICE_CAL)
    [matches] = index.search(b * 5.0, k=1)  # the scale of a query is irrelevant
    assert matches[0].score == pytest.approx(0.8, abs=1e-6)
    assert matches[0].distance == pytest.approx(0.2, abs=1e-6)
    c = np.zeros(256, dtype=np.float32)
    c[:2] = [0.7, 0.71414284]  # cosine 0.7: below 0.75
    assert index.search(c) == [[]]


def test_face_distances_are_euclidean_not_squared() -> None:
    a = np.zeros(128, dtype=np.float32)
    b = np.zeros(128, dtype=np.float32)
    b[3] = 0.4
    index = LikenessIndex.build("face", [Reference(1, 1, a)], FACE_CAL)
    [[match]] = index.search(b)
    assert match.distance == pytest.approx(0.4, abs=1e-6)
    assert match.score == pytest.approx(0.6, abs=1e-6)


def test_empty_index_matches_nothing(tmp_path: Path) -> None:
    empty = LikenessIndex.build("face", [], FACE_CAL, revision=3)
    assert len(empty) == 0 and empty.person_count == 0
    assert empty.search(np.zeros((4, 128), dtype=np.float32)) == [[], [], [], []]
    assert empty.search(np.zeros((0, 128), dtype=np.float32)) == []
    empty.save(tmp_path)
    loaded = LikenessIndex.load(tmp_path)
    assert len(loaded) == 0 and loaded.revision == 3
    assert loaded.search(np.zeros(128, dtype=np.float32)) == [[]]


@pytest.mark.parametrize(
    ("queries", "k", "error", "message"),
    [
        (np.zeros((2, 127)), 1, InvalidSignal, "length 128"),
        (np.zeros((2, 3, 128)), 1, InvalidSignal, "length 128"),
        (np.full(128, np.nan), 1, InvalidSignal, "NaN"),
        (np.zeros(128), 0, ConfigError, "at least 1"),
        (np.zeros(128), 1.5, ConfigError, "at least 1"),
    ],
)
def test_bad_queries_are_refused(
    queries: npt.NDArray[np.float64], k: object, error: type, message: str
) -> None:
    refs, _ = clustered("face", [2], seed=0)
    index = LikenessIndex.build("face", refs, FACE_CAL)
    with pytest.raises(error, match=message) as info:
        index.search(queries, k=k)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_bad_references_are_refused() -> None:
    good = np.zeros(128, dtype=np.float32)
    with pytest.raises(InvalidSignal, match="appears twice"):
        LikenessIndex.build(
            "face", [Reference(1, 5, good), Reference(2, 5, good)], FACE_CAL
        )
    with pytest.raises(InvalidSignal, match="reference 6 of person 1"):
        LikenessIndex.build(
            "face", [Reference(1, 6, np.zeros(256, dtype=np.float32))], FACE_CAL
        )
    with pytest.raises(InvalidSignal, match="all-zero"):
        LikenessIndex.build(
            "voice", [Reference(1, 6, np.zeros(256, dtype=np.float32))], VOICE_CAL
        )
    with pytest.raises(ConfigError, match="cannot serve"):
        LikenessIndex.build("voice", [], FACE_CAL)
    with pytest.raises(ConfigError, match="unknown index kind"):
        LikenessIndex.build("face", [], FACE_CAL, kind="ivf")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="threads"):
        LikenessIndex.build("face", [], FACE_CAL, threads=0)


# --- scale: the HNSW switch ------------------------------------------------------


def test_hnsw_agrees_with_flat_search() -> None:
    refs, centres = clustered("face", [4] * 400, seed=11)
    flat = LikenessIndex.build("face", refs, FACE_CAL)
    hnsw = LikenessIndex.build("face", refs, FACE_CAL, kind="hnsw")
    assert (flat.kind, hnsw.kind) == ("flat", "hnsw")
    rng = np.random.default_rng(12)
    queries = centres + rng.normal(scale=0.01, size=centres.shape).astype(np.float32)
    exact = flat.search(queries, k=3)
    approximate = hnsw.search(queries, k=3)
    agree = sum(
        as_tuples(a)[:1] == as_tuples(b)[:1]
        for a, b in zip(exact, approximate, strict=True)
    )
    assert all(len(a) == 1 for a in exact)
    assert agree >= 0.99 * len(queries)


def test_build_switches_to_hnsw_above_the_flat_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(index_module, "FLAT_LIMIT", 10)
    refs, centres = clustered("voice", [3, 3, 3, 3], seed=4)
    index = LikenessIndex.build("voice", refs, VOICE_CAL)
    assert index.kind == "hnsw"
    assert [m.person_id for m in index.search(centres[2])[0]] == [3]
    index.save(tmp_path)
    loaded = LikenessIndex.load(tmp_path)
    assert loaded.kind == "hnsw"
    assert as_tuples(loaded.search(centres[2])[0]) == as_tuples(
        index.search(centres[2])[0]
    )
    small = LikenessIndex.build("voice", refs[:10], VOICE_CAL)
    assert small.kind == "flat"


# --- persistence -----------------------------------------------------------------


def saved(tmp_path: Path, *, revision: int = 7) -> tuple[LikenessIndex, Path]:
    refs, _ = clustered("face", [2, 3, 1], seed=21)
    index = LikenessIndex.build("face", refs, FACE_CAL, revision=revision)
    directory = tmp_path / "face"
    index.save(directory)
    return index, directory


def faiss_file(directory: Path) -> Path:
    [path] = directory.glob("index-*.faiss")
    return path


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index, directory = saved(tmp_path)
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["index.json", faiss_file(directory).name]
    )
    sidecar = json.loads((directory / "index.json").read_text())
    assert sidecar["format"] == "deepguard.likeness-index/1"
    assert (sidecar["modality"], sidecar["dims"], sidecar["metric"]) == (
        "face",
        128,
        "l2",
    )
    assert sidecar["ref_ids"] == [100, 101, 102, 103, 104, 105]
    assert sidecar["calibration"] == FACE_CAL.to_dict()
    loaded = LikenessIndex.load(directory)
    assert (loaded.modality, loaded.kind, loaded.revision) == ("face", "flat", 7)
    assert loaded.calibration == FACE_CAL
    queries = np.stack([r.embedding for r in clustered("face", [2, 3, 1], seed=21)[0]])
    assert [as_tuples(m) for m in loaded.search(queries)] == [
        as_tuples(m) for m in index.search(queries)
    ]


def test_saving_again_replaces_the_faiss_file(tmp_path: Path) -> None:
    _, directory = saved(tmp_path, revision=1)
    first = faiss_file(directory)
    refs, _ = clustered("face", [5], seed=22)
    LikenessIndex.build("face", refs, FACE_CAL, revision=2).save(directory)
    second = faiss_file(directory)  # exactly one: the stale one is gone
    assert second != first
    assert LikenessIndex.load(directory).revision == 2


def test_a_failed_save_leaves_the_previous_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, directory = saved(tmp_path, revision=1)
    real = index_module.atomic_output
    calls = 0

    def fail_on_sidecar(dst: Path, **kwargs: object):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if dst.name == "index.json":
            raise OSError(28, "No space left on device")
        return real(dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module, "atomic_output", fail_on_sidecar)
    refs, _ = clustered("face", [5], seed=23)
    with pytest.raises(StorageError, match="No space left") as info:
        LikenessIndex.build("face", refs, FACE_CAL, revision=2).save(directory)
    assert str(directory) in str(info.value)
    assert calls == 2
    monkeypatch.setattr(index_module, "atomic_output", real)
    assert LikenessIndex.load(directory).revision == 1


def test_missing_index_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no likeness index here") as info:
        LikenessIndex.load(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
    _, directory = saved(tmp_path)
    faiss_file(directory).unlink()
    with pytest.raises(NotFound, match="missing; rebuild"):
        LikenessIndex.load(directory)


def edit_sidecar(directory: Path, **changes: object) -> None:
    path = directory / "index.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "deepguard.likeness-index/9"}, "this deepguard reads"),
        ({"modality": "iris"}, "unknown modality"),
        ({"modality": "voice"}, "a voice index has dims=256"),
        ({"dims": 256}, "a face index has dims=128"),
        ({"metric": "ip"}, "metric='l2'"),
        ({"kind": "ivf"}, "unknown index kind"),
        ({"kind": "hnsw"}, "does not match kind"),
        ({"count": 5}, "different number of ids"),
        (
            {"count": 5, "ref_ids": [1, 2, 3, 4, 5], "person_ids": [1] * 5},
            "holds 6 vectors",
        ),
        ({"ref_ids": ["a"] * 6}, "not integers"),
        ({"revision": "7"}, "'revision' is missing"),
        ({"faiss_file": "../elsewhere.faiss"}, "unexpected FAISS file"),
        ({"faiss_sha256": "0" * 64}, "checksum"),
        ({"calibration": {"modality": "face"}}, "bad calibration"),
        ({"calibration": VOICE_CAL.to_dict()}, "voice calibration for a face index"),
    ],
)
def test_damaged_sidecar_is_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    _, directory = saved(tmp_path)
    edit_sidecar(directory, **changes)
    with pytest.raises(StorageError, match=message) as info:
        LikenessIndex.load(directory)
    text = str(info.value)
    assert "\n" not in text
    assert str(directory) in text


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_unreadable_sidecar_is_refused(tmp_path: Path, content: bytes) -> None:
    _, directory = saved(tmp_path)
    (directory / "index.json").write_bytes(content)
    with pytest.raises(StorageError) as info:
        LikenessIndex.load(directory)
    assert "index.json" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_faiss_file_is_refused(tmp_path: Path, damage: str) -> None:
    import hashlib

    _, directory = saved(tmp_path)
    path = faiss_file(directory)
    blob = path.read_bytes()
    blob = blob[: len(blob) // 2] if damage == "truncate" else b"IxF2" + bytes(200)
    path.write_bytes(blob)
    # Checksum first...
    with pytest.raises(StorageError, match="checksum"):
        LikenessIndex.load(directory)
    # ...and a matching checksum over bad bytes still does not get through.
    edit_sidecar(directory, faiss_sha256=hashlib.sha256(blob).hexdigest())
    # (zeros after a valid header read as a 0-dimensional index: caught too)
    message = "cannot be read as an index|FAISS index has dims 0"
    with pytest.raises(StorageError, match=message) as info:
        LikenessIndex.load(directory)
    assert path.name in str(info.value)


# --- real faces ----------------------------------------------------------------------

TEST_PHOTOS = {
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "johnsnow_test1.jpg": ["kit_harington"],
    "kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
    "obama1.jpg": ["obama"],
    "obama_and_biden.jpg": ["biden", "obama", None],  # None: a girl nobody enrolled
}


@pytest.mark.shared_data
@pytest.mark.slow
def test_enrolled_people_are_found_in_the_shared_test_photos(shared_data: Path) -> None:
    from deepguard.likeness.faces import FaceEngine, load_faces

    engine = FaceEngine()
    people = sorted(p.name for p in (shared_data / "faces" / "train").iterdir())
    refs = []
    for person_id, name in enumerate(people, start=1):
        for photo in sorted((shared_data / "faces" / "train" / name).iterdir()):
            [face] = load_faces(photo, limits=Limits(), engine=engine)
            assert face.embedding is not None
            refs.append(Reference(person_id, len(refs), face.embedding))
    index = LikenessIndex.build("face", refs, default_calibration("face"))
    for photo, expected in TEST_PHOTOS.items():
        faces = load_faces(
            shared_data / "faces" / "test" / photo, limits=Limits(), engine=engine
        )
        faces = sorted(faces, key=lambda f: f.box[0])  # left to right
        assert len(faces) == len(expected), photo
        results = index.search(np.stack([f.embedding for f in faces]), k=5)
        found = [[people[m.person_id - 1] for m in matches] for matches in results]
        assert found == [[name] if name else [] for name in expected], photo
        for matches in results:
            assert all(m.probability > 0.99 for m in matches)
