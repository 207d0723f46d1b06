"""Face accuracy for bench/likeness.py: labelled faces, verification, identification.

How identities are labelled. Every photo of ``../shared/data/faces`` shows
people whose names the folder or file name gives (train/<person>/, the test
and extra photos are named after who is in them). A single-person photo
contributes its largest comparable face only: a background face there has
no known name. The three photos with several people are labelled by hand,
left to right by the centre of the face box, from looking at them:

* test/kit_with_rose.jpg: rose_leslie, kit_harington;
* test/obama_and_biden.jpg: biden, obama, and a girl at the bottom right who
  is none of the enrolled people (``UNKNOWN``: her own identity in the pairs,
  a face that must match nobody in identification);
* extra_two_people.jpg: obama, biden.

A multi-face photo whose comparable faces do not number exactly its labels
is left out of the labels and reported, never guessed.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.likeness.calibration import default_calibration
from deepguard.likeness.faces import Face, FaceEngine, load_faces
from deepguard.likeness.index import LikenessIndex, Reference

UNKNOWN = "unknown_girl"
"""The girl in obama_and_biden.jpg: a real face of nobody enrolled."""

MULTI: dict[str, tuple[str, ...]] = {
    "test/kit_with_rose.jpg": ("rose_leslie", "kit_harington"),
    "test/obama_and_biden.jpg": ("biden", "obama", UNKNOWN),
    "extra_two_people.jpg": ("obama", "biden"),
}
SINGLE_TEST: dict[str, str] = {
    "test/alex_lacamoire1.jpg": "alex_lacamoire",
    "test/obama1.jpg": "obama",
    "test/johnsnow_test1.jpg": "kit_harington",  # Kit Harington in costume
}
RESCALED = (
    "extra_obama-240p",
    "extra_obama-480p",
    "extra_obama-720p",
    "extra_obama-1080p",
)
"""One photo saved at four sizes: their pairs are near-duplicates, not two photos."""


@dataclass(frozen=True, slots=True)
class Photo:
    """One shared photo and every face the engine saw in it."""

    name: str  # relative to faces/
    split: str  # train, test or extra
    path: Path
    faces: tuple[Face, ...]


@dataclass(frozen=True, slots=True)
class Labelled:
    """A comparable face whose identity is known."""

    photo: str
    split: str
    identity: str
    face: Face

    @property
    def embedding(self) -> npt.NDArray[np.float32]:
        assert self.face.embedding is not None  # only comparable faces get here
        return self.face.embedding


def load_photos(root: Path, engine: FaceEngine) -> list[Photo]:
    """Every photo under faces/ (train, test, extra_*), analysed once."""
    photos = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
            continue
        name = path.relative_to(root).as_posix()
        split = name.split("/", 1)[0] if "/" in name else "extra"
        faces = load_faces(path, limits=Limits(), engine=engine)
        photos.append(Photo(name, split, path, tuple(faces)))
    return photos


def truth(photo: Photo) -> dict[tuple[int, int, int, int], str] | None:
    """Identity of each face box in a photo, or None when it cannot be told.

    Multi-face photos: every face seen, comparable or not, left to right, so
    a face turning "not comparable" does not shift the others' names; None
    when the engine sees a different number of faces than there are labels.
    Single-person photos: the largest comparable face (the engine sorts
    largest first), or the largest face when none is comparable.
    """
    if photo.name in MULTI:
        names = MULTI[photo.name]
        if len(photo.faces) != len(names):
            return None
        ordered = sorted(photo.faces, key=lambda f: f.box[0] + f.box[2] / 2)
        return {f.box: who for who, f in zip(names, ordered, strict=True)}
    if not photo.faces:
        return {}
    comparable = [f for f in photo.faces if f.comparable]
    return {(comparable or list(photo.faces))[0].box: _single_identity(photo)}


def label(photos: list[Photo]) -> tuple[list[Labelled], list[str]]:
    """Labelled comparable faces, and notes on what was left out and why."""
    out: list[Labelled] = []
    notes: list[str] = []
    for photo in photos:
        known = truth(photo)
        if known is None:
            notes.append(
                f"{photo.name}: {len(photo.faces)} faces seen for "
                f"{len(MULTI[photo.name])} labels; left out"
            )
            continue
        for face in photo.faces:
            who = known.get(face.box)
            if not face.comparable:
                notes.append(
                    f"{photo.name}: face of {who or 'nobody named'} seen but not "
                    f"comparable ({face.not_comparable})"
                )
            elif who is None:
                notes.append(f"{photo.name}: background face at {face.box} unused")
            else:
                out.append(Labelled(photo.name, photo.split, who, face))
        if not known:
            notes.append(f"{photo.name}: no face seen; left out")
    return out, notes


def _single_identity(photo: Photo) -> str:
    if photo.split == "train":
        return photo.name.split("/")[1]
    if photo.name in SINGLE_TEST:
        return SINGLE_TEST[photo.name]
    if photo.name.startswith("extra_obama"):
        return "obama"
    msg = f"no identity known for {photo.name}; add it to bench/_likeness_faces.py"
    raise SystemExit(msg)


# -- verification ------------------------------------------------------------------


def verification(faces: list[Labelled], target_fmr: float = 1e-3) -> dict[str, Any]:
    """All pairs: accuracy at the calibrated threshold, TPR at ``target_fmr``."""
    calibration = default_calibration("face", target_fmr)
    genuine: list[float] = []
    impostor: list[float] = []
    duplicate: list[bool] = []
    for a, b in itertools.combinations(faces, 2):
        distance = float(np.linalg.norm(a.embedding - b.embedding))
        if a.identity == b.identity:
            genuine.append(distance)
            duplicate.append(_stem(a.photo) in RESCALED and _stem(b.photo) in RESCALED)
        else:
            impostor.append(distance)
    g, i = np.asarray(genuine), np.asarray(impostor)
    # Scores are 1 - distance; the calibration accepts score >= threshold.
    max_distance = 1.0 - calibration.threshold
    correct = int((g <= max_distance).sum() + (i > max_distance).sum())
    allowed = math.floor(target_fmr * i.size)
    # Accept distances strictly below the (allowed+1)-th smallest impostor one.
    cut = float(np.sort(i)[allowed]) if i.size else math.inf
    distinct = g[~np.asarray(duplicate, dtype=bool)]
    return {
        "faces": len(faces),
        "identities": len({f.identity for f in faces}),
        "genuine_pairs": int(g.size),
        "impostor_pairs": int(i.size),
        "rescaled_duplicate_pairs": int(sum(duplicate)),
        "calibrated_max_distance": max_distance,
        "accuracy_at_calibrated": correct / (g.size + i.size),
        "tpr_at_calibrated": float((g <= max_distance).mean()),
        "fpr_at_calibrated": float((i <= max_distance).mean()),
        "target_fmr": target_fmr,
        "false_accepts_allowed": allowed,
        "fpr_resolution": 1.0 / i.size if i.size else math.nan,
        "distance_cut_at_target": cut,
        "tpr_at_target": float((g < cut).mean()),
        "tpr_at_target_without_rescaled": float((distinct < cut).mean()),
        "genuine": _stats(g),
        "impostor": _stats(i),
        "closest_impostors": _closest(faces, 3),
    }


def _stem(photo: str) -> str:
    return Path(photo).stem


def _stats(values: npt.NDArray[np.float64]) -> dict[str, float]:
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _closest(faces: list[Labelled], n: int) -> list[str]:
    pairs = sorted(
        (float(np.linalg.norm(a.embedding - b.embedding)), a, b)
        for a, b in itertools.combinations(faces, 2)
        if a.identity != b.identity
    )[:n]
    return [
        f"{d:.3f} {a.photo}({a.identity}) ~ {b.photo}({b.identity})"
        for d, a, b in pairs
    ]


# -- identification ----------------------------------------------------------------


def identification(faces: list[Labelled], photos: list[Photo]) -> dict[str, Any]:
    """Enrol the train faces; find the people in every test photo.

    Closed set: all five people enrolled. Open set: each person in turn is
    left out of the index (the other four enrolled), so their faces, and the
    unknown girl, must match nobody.
    """
    train = [f for f in faces if f.split == "train"]
    people = sorted({f.identity for f in train})
    ids = {who: n + 1 for n, who in enumerate(people)}
    tests = [p for p in photos if p.split == "test"]
    known = {p.name: truth(p) for p in tests}
    runs: list[tuple[str, set[str]]] = [("all enrolled", set(people))]
    runs += [(f"without {who}", set(people) - {who}) for who in people]
    rows: dict[str, dict[str, dict[str, Any]]] = {
        group: {
            p.name: {"found": 0, "missed": 0, "false": 0, "rejected_unknown": 0}
            for p in tests
        }
        for group in ("closed", "open")
    }
    details: list[dict[str, Any]] = []
    for number, (run, enrolled) in enumerate(runs):
        index = _index([f for f in train if f.identity in enrolled], ids)
        for photo in tests:
            row = rows["closed" if number == 0 else "open"][photo.name]
            row["not_comparable"] = sum(1 for f in photo.faces if not f.comparable)
            row["faces"] = len(photo.faces)
            labels = known[photo.name]
            row["labelled"] = labels is not None
            for face in photo.faces:
                who = labels.get(face.box) if labels is not None else None
                expected = who if who in enrolled else None
                if face.embedding is None:
                    # An enrolled person whose face cannot be compared is not found.
                    row["missed"] += expected is not None
                    continue
                matches = index.search(face.embedding, k=1)[0]
                got = people[matches[0].person_id - 1] if matches else None
                score = matches[0].score if matches else None
                if labels is None:
                    row["unscored"] = row.get("unscored", 0) + 1
                elif expected is not None and got == expected:
                    row["found"] += 1
                elif expected is not None and got is None:
                    row["missed"] += 1
                elif got is not None and got != expected:
                    row["false"] += 1
                else:
                    row["rejected_unknown"] += 1
                details.append(
                    {
                        "run": run,
                        "photo": photo.name,
                        "box": list(face.box),
                        "truth": who,
                        "match": got,
                        "score": score,
                    }
                )
    return {
        "enrolled": people,
        "runs": [r for r, _ in runs],
        "closed": rows["closed"],
        "open": rows["open"],
        "details": details,
    }


def _index(refs: list[Labelled], ids: dict[str, int]) -> LikenessIndex:
    references = [
        Reference(person_id=ids[f.identity], ref_id=n + 1, embedding=f.embedding)
        for n, f in enumerate(refs)
    ]
    return LikenessIndex.build("face", references, default_calibration("face"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
