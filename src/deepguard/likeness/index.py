"""A FAISS index over every reference of every protected person, per modality.

Why one index over all people, rather than one per person: a scan asks "who,
if anyone, is this?" for every face or voice window it finds, and one search
over all references answers that in a single pass, whatever the size of the
registry.

Metrics follow the models: dlib face descriptors are compared by Euclidean
distance (``IndexFlatL2``; FAISS reports *squared* distances, taken back to
distances here), Resemblyzer voice embeddings by cosine similarity
(``IndexFlatIP`` on L2-normalised vectors). Every match carries the raw
distance, the score ``1 - distance`` and the calibrated probability; see
:mod:`deepguard.likeness.calibration`.

Scale. Exact (flat) search costs one pass over all references per query and
is what a registry of up to ~100k references should use: it is exact, needs
no training and is fast enough (see :data:`FLAT_LIMIT`). Above that,
:meth:`LikenessIndex.build` switches to HNSW (``IndexHNSWFlat``, same metric,
no training step, recall traded for speed through ``ef_search``); either can
be forced with ``kind=``.

On disk an index is a directory with two files: ``index-<digest>.faiss`` (the
FAISS index, named by its SHA-256) and ``index.json`` (the sidecar: modality,
dimensions, metric, calibration, revision, reference ids, format version).
The sidecar is written last and names the FAISS file by digest, so a crash at
any point leaves either the old index or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Self, cast, get_args

import faiss
import numpy as np
import numpy.typing as npt

from deepguard._atomic import atomic_output
from deepguard.errors import ConfigError, InvalidSignal, NotFound, StorageError
from deepguard.likeness.calibration import (
    DIMS,
    Calibration,
    Modality,
    distance_to_score,
)

__all__ = [
    "DEFAULT_THREADS",
    "FLAT_LIMIT",
    "FORMAT",
    "IndexKind",
    "LikenessIndex",
    "Match",
    "Reference",
]

FORMAT: Final = "deepguard.likeness-index/1"
SIDECAR: Final = "index.json"

IndexKind = Literal["flat", "hnsw"]
FLAT_LIMIT: Final = 100_000
"""Up to this many references, search is exact. Flat search over 100k
128-d vectors is a few milliseconds per query on one core; beyond that an
approximate graph index keeps queries fast as the registry grows."""

_HNSW_M: Final = 32
_HNSW_EF_CONSTRUCTION: Final = 80
_HNSW_EF_SEARCH: Final = 128

DEFAULT_THREADS: Final = 1
"""OpenMP threads per search. deepguard parallelises scans over files, and
FAISS's OpenMP threads spin while they wait: on a busy 2-core machine a
single-query search measured 94 queries/s with 2 threads against 5,400 with
1 (10k references). Batch callers with idle cores may raise it."""

_METRICS: Final[dict[Modality, str]] = {"face": "l2", "voice": "ip"}
_FAISS_METRIC: Final = {"l2": faiss.METRIC_L2, "ip": faiss.METRIC_INNER_PRODUCT}


@dataclass(frozen=True, slots=True, eq=False)
class Reference:
    """One enrolled embedding: whose it is and which stored reference it is."""

    person_id: int
    ref_id: int
    embedding: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Match:
    """A person found for one query, through their closest reference."""

    person_id: int
    ref_id: int
    distance: float
    score: float
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "ref_id": self.ref_id,
            "distance": round(self.distance, 6),
            "score": round(self.score, 6),
            "probability": round(self.probability, 6),
        }


def _vectors(
    data: npt.ArrayLike, modality: Modality, *, what: str
) -> npt.NDArray[np.float32]:
    """Embeddings as a C-contiguous float32 (n, dims) array, checked.

    Voice embeddings are re-normalised: inner product equals cosine
    similarity only on unit vectors, and a caller's rounding (JSON, float16)
    must not bend the scores.

    Raises:
        InvalidSignal: wrong shape, non-finite values, a zero voice vector.
    """
    dims = DIMS[modality]
    array = np.asarray(data, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != dims:
        msg = (
            f"{what} must be {modality} embeddings of length {dims}, "
            f"got shape {np.shape(data)}"
        )
        raise InvalidSignal(msg)
    if not np.all(np.isfinite(array)):
        msg = f"{what} contain NaN or infinite values"
        raise InvalidSignal(msg)
    if modality == "voice" and array.shape[0]:
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        if np.any(norms == 0):
            msg = f"{what} contain an all-zero voice embedding"
            raise InvalidSignal(msg)
        array = array / norms
    return np.ascontiguousarray(array, dtype=np.float32)


def _new_faiss(modality: Modality, kind: IndexKind) -> Any:
    dims, metric = DIMS[modality], _FAISS_METRIC[_METRICS[modality]]
    if kind == "flat":
        return (
            faiss.IndexFlatL2(dims) if modality == "face" else faiss.IndexFlatIP(dims)
        )
    index = faiss.IndexHNSWFlat(dims, _HNSW_M, metric)
    index.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = _HNSW_EF_SEARCH
    return index


class LikenessIndex:
    """Nearest references for face or voice embeddings, with calibrated matches.

    Built once from the registry's references (a registry change bumps its
    revision and the caller rebuilds: a flat index of 100k references builds
    in under half a second, an HNSW one in tens of seconds on 2 cores, which
    is why indexes are saved and loaded), then searched many times.
    """

    def __init__(
        self,
        *,
        modality: Modality,
        kind: IndexKind,
        faiss_index: Any,
        person_ids: npt.NDArray[np.int64],
        ref_ids: npt.NDArray[np.int64],
        calibration: Calibration,
        revision: int,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            msg = f"threads must be a whole number of at least 1, got {threads!r}"
            raise ConfigError(msg)
        self.modality: Modality = modality
        self.threads = threads
        self.kind: IndexKind = kind
        self.calibration = calibration
        self.revision = revision
        self._index = faiss_index
        self._person_ids = person_ids
        self._ref_ids = ref_ids
        # All references of one person may crowd the nearest neighbours; this
        # bounds how far a search must look to see k distinct people.
        counts = np.unique(person_ids, return_counts=True)[1]
        self._max_refs = int(counts.max()) if counts.size else 0

    @property
    def dims(self) -> int:
        return DIMS[self.modality]

    @property
    def metric(self) -> str:
        return _METRICS[self.modality]

    def __len__(self) -> int:
        return int(self._person_ids.size)

    @property
    def person_count(self) -> int:
        return int(np.unique(self._person_ids).size)

    @classmethod
    def build(
        cls,
        modality: Modality,
        refs: Sequence[Reference],
        calibration: Calibration,
        *,
        revision: int = 0,
        kind: IndexKind | None = None,
        threads: int = DEFAULT_THREADS,
    ) -> Self:
        """An index over ``refs``; flat below :data:`FLAT_LIMIT`, else HNSW.

        Raises:
            ConfigError: unknown modality or kind, or a calibration made for
                the other modality.
            InvalidSignal: a malformed embedding, or a reference id used twice.
        """
        if modality not in _METRICS:
            msg = f"unknown modality {modality!r}; expected 'face' or 'voice'"
            raise ConfigError(msg)
        if calibration.modality != modality:
            msg = (
                f"a {calibration.modality} calibration cannot serve a {modality} index"
            )
            raise ConfigError(msg)
        chosen: IndexKind = kind or ("flat" if len(refs) <= FLAT_LIMIT else "hnsw")
        if chosen not in get_args(IndexKind):
            msg = f"unknown index kind {chosen!r}; expected 'flat' or 'hnsw'"
            raise ConfigError(msg)
        ref_ids = np.fromiter((r.ref_id for r in refs), dtype=np.int64, count=len(refs))
        if np.unique(ref_ids).size != ref_ids.size:
            values, counts = np.unique(ref_ids, return_counts=True)
            msg = f"reference id {int(values[counts > 1][0])} appears twice"
            raise InvalidSignal(msg)
        person_ids = np.fromiter(
            (r.person_id for r in refs), dtype=np.int64, count=len(refs)
        )
        index = _new_faiss(modality, chosen)
        if refs:
            for ref in refs:
                if np.shape(ref.embedding) != (DIMS[modality],):
                    msg = (
                        f"reference {ref.ref_id} of person {ref.person_id}: expected "
                        f"a {modality} embedding of length {DIMS[modality]}, "
                        f"got shape {np.shape(ref.embedding)}"
                    )
                    raise InvalidSignal(msg)
            embeddings = np.stack([np.asarray(r.embedding) for r in refs])
            vectors = _vectors(embeddings, modality, what="reference embeddings")
            index.add(vectors)  # a one-off; FAISS's own thread count
        return cls(
            modality=modality,
            kind=chosen,
            faiss_index=index,
            person_ids=person_ids,
            ref_ids=ref_ids,
            calibration=calibration,
            revision=revision,
            threads=threads,
        )

    def search(self, queries: npt.ArrayLike, *, k: int = 5) -> list[list[Match]]:
        """For each query, up to ``k`` people it matches, best first.

        Only matches the calibration accepts are returned, one per person
        (through that person's closest reference). An empty index matches
        nothing. A single 1-D query counts as a batch of one.

        Raises:
            InvalidSignal: malformed query embeddings.
            ConfigError: ``k`` below 1.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            msg = f"k must be a whole number of at least 1, got {k!r}"
            raise ConfigError(msg)
        vectors = _vectors(queries, self.modality, what="query embeddings")
        results: list[list[Match]] = [[] for _ in range(vectors.shape[0])]
        if not len(self) or not vectors.shape[0]:
            return results
        pending = np.arange(vectors.shape[0])
        depth = min(len(self), k * max(1, min(self._max_refs, 4)))
        while pending.size:
            with _omp_threads(self.threads):
                raw, rows = self._index.search(vectors[pending], depth)
            retry: list[int] = []
            for query, row_raw, row_ids in zip(pending, raw, rows, strict=True):
                matches, complete = self._collect(row_raw, row_ids, k)
                if complete or depth >= min(len(self), k * self._max_refs):
                    results[int(query)] = matches
                else:
                    retry.append(int(query))
            pending = np.asarray(retry, dtype=np.int64)
            depth = min(len(self), depth * 4)
        return results

    def _collect(
        self,
        raw: npt.NDArray[np.float32],
        rows: npt.NDArray[np.int64],
        k: int,
    ) -> tuple[list[Match], bool]:
        """Best match per person among one query's neighbours.

        Returns the matches and whether they are final: ``k`` people found,
        or the neighbours ran below the threshold (everyone further away is
        below it too), or there are no more neighbours to look at.
        """
        best: dict[int, Match] = {}
        below_threshold = False
        for value, row in zip(raw.tolist(), rows.tolist(), strict=True):
            if row < 0:  # fewer neighbours than asked for: the index is exhausted
                return self._ranked(best, k), True
            distance = self._distance(value)
            score = distance_to_score(distance)
            if not self.calibration.accepts(score):
                below_threshold = True
                break
            person = int(self._person_ids[row])
            if person not in best:  # neighbours come nearest first
                best[person] = Match(
                    person_id=person,
                    ref_id=int(self._ref_ids[row]),
                    distance=distance,
                    score=score,
                    probability=self.calibration.probability(score),
                )
                if len(best) == k:
                    break
        complete = below_threshold or len(best) == k or rows.size >= len(self)
        return self._ranked(best, k), complete

    def _distance(self, value: float) -> float:
        if self.modality == "face":
            return math.sqrt(max(value, 0.0))  # FAISS L2 is squared
        return 1.0 - min(max(value, -1.0), 1.0)  # cosine distance

    @staticmethod
    def _ranked(best: dict[int, Match], k: int) -> list[Match]:
        ordered = sorted(best.values(), key=lambda m: (-m.score, m.person_id))
        return ordered[:k]

    # Persistence -----------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the index and its sidecar into ``directory``, atomically.

        Raises:
            StorageError: the directory cannot be written.
        """
        blob = faiss.serialize_index(self._index).tobytes()
        digest = hashlib.sha256(blob).hexdigest()
        name = f"index-{digest[:16]}.faiss"
        sidecar = {
            "format": FORMAT,
            "modality": self.modality,
            "dims": self.dims,
            "metric": self.metric,
            "kind": self.kind,
            "count": len(self),
            "revision": self.revision,
            "calibration": self.calibration.to_dict(),
            "faiss_file": name,
            "faiss_sha256": digest,
            "person_ids": self._person_ids.tolist(),
            "ref_ids": self._ref_ids.tolist(),
        }
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not _same_file(directory / name, digest):
                with atomic_output(directory / name) as tmp:
                    tmp.write_bytes(blob)
            with atomic_output(directory / SIDECAR) as tmp:
                tmp.write_text(json.dumps(sidecar), encoding="utf-8")
        except OSError as exc:
            msg = f"cannot write the likeness index: {exc.strerror or exc}"
            raise StorageError(msg, path=directory) from exc
        _remove_stale(directory)

    @classmethod
    def load(cls, directory: Path, *, threads: int = DEFAULT_THREADS) -> Self:
        """Read an index written by :meth:`save`.

        Raises:
            NotFound: no index in ``directory`` or its FAISS file is gone.
            StorageError: a file is corrupt, or the files do not agree.
        """
        sidecar_path = directory / SIDECAR
        try:
            text = sidecar_path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            msg = f"no likeness index here ({SIDECAR} is missing)"
            raise NotFound(msg, path=directory) from exc
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"cannot read the index sidecar: {exc}"
            raise StorageError(msg, path=sidecar_path) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"index sidecar is not valid JSON ({exc.msg} at line {exc.lineno})"
            raise StorageError(msg, path=sidecar_path) from exc
        meta = _Sidecar.parse(data, sidecar_path)
        faiss_path = directory / meta.faiss_file
        try:
            blob = faiss_path.read_bytes()
        except FileNotFoundError as exc:
            msg = f"the FAISS file {SIDECAR} names is missing; rebuild the index"
            raise NotFound(msg, path=faiss_path) from exc
        except OSError as exc:
            msg = f"cannot read the FAISS index: {exc.strerror or exc}"
            raise StorageError(msg, path=faiss_path) from exc
        if hashlib.sha256(blob).hexdigest() != meta.faiss_sha256:
            msg = f"FAISS file does not match its {SIDECAR} checksum; rebuild the index"
            raise StorageError(msg, path=faiss_path)
        try:
            index: Any = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        except RuntimeError as exc:
            msg = "FAISS file cannot be read as an index; rebuild the index"
            raise StorageError(msg, path=faiss_path) from exc
        meta.check_against(index, faiss_path)
        if meta.kind == "hnsw":
            index.hnsw.efSearch = _HNSW_EF_SEARCH
        return cls(
            modality=meta.modality,
            kind=meta.kind,
            faiss_index=index,
            person_ids=meta.person_ids,
            ref_ids=meta.ref_ids,
            calibration=meta.calibration,
            revision=meta.revision,
            threads=threads,
        )


@contextlib.contextmanager
def _omp_threads(threads: int) -> Iterator[None]:
    """Run FAISS with ``threads`` OpenMP threads, then restore the setting.

    The setting is process-wide in FAISS; concurrent searches from several
    Python threads should share one value.
    """
    previous = faiss.omp_get_max_threads()
    if previous == threads:
        yield
        return
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _same_file(path: Path, digest: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == digest
    except OSError:
        return False


def _remove_stale(directory: Path) -> None:
    """Delete FAISS files the sidecar on disk no longer names (best effort).

    Re-reads the sidecar rather than trusting the one just written, so two
    writers racing never delete the file the winning sidecar names.
    """
    try:
        current = json.loads((directory / SIDECAR).read_text(encoding="utf-8"))
        keep = current.get("faiss_file") if isinstance(current, dict) else None
        for path in directory.glob("index-*.faiss"):
            if path.name != keep:
                path.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass  # stale files waste space but never break a load


@dataclass(frozen=True, slots=True)
class _Sidecar:
    """The checked contents of ``index.json``."""

    modality: Modality
    kind: IndexKind
    count: int
    revision: int
    calibration: Calibration
    faiss_file: str
    faiss_sha256: str
    person_ids: npt.NDArray[np.int64]
    ref_ids: npt.NDArray[np.int64]

    @classmethod
    def parse(cls, data: object, path: Path) -> _Sidecar:
        def fail(problem: str) -> StorageError:
            return StorageError(f"index sidecar {problem}", path=path)

        if not isinstance(data, dict):
            raise fail("is not a JSON object")
        if data.get("format") != FORMAT:
            msg = f"has format {data.get('format')!r}; this deepguard reads {FORMAT!r}"
            raise fail(msg)
        modality = data.get("modality")
        if modality not in _METRICS:
            raise fail(f"names an unknown modality {modality!r}")
        modality = cast(Modality, modality)
        if (
            data.get("dims") != DIMS[modality]
            or data.get("metric") != _METRICS[modality]
        ):
            msg = (
                f"says dims={data.get('dims')!r}, metric={data.get('metric')!r}; a "
                f"{modality} index has dims={DIMS[modality]}, "
                f"metric={_METRICS[modality]!r}"
            )
            raise fail(msg)
        kind = data.get("kind")
        if kind not in get_args(IndexKind):
            raise fail(f"names an unknown index kind {kind!r}")
        fields: dict[str, Any] = {}
        for name, typ in (
            ("count", int),
            ("revision", int),
            ("faiss_file", str),
            ("faiss_sha256", str),
            ("person_ids", list),
            ("ref_ids", list),
        ):
            value = data.get(name)
            if not isinstance(value, typ) or isinstance(value, bool):
                raise fail(f"field {name!r} is missing or not a {typ.__name__}")
            fields[name] = value
        name = fields["faiss_file"]
        if "/" in name or "\\" in name or not name.endswith(".faiss"):
            raise fail(f"names an unexpected FAISS file {name!r}")
        try:
            person_ids = np.asarray(fields["person_ids"], dtype=np.int64).reshape(-1)
            ref_ids = np.asarray(fields["ref_ids"], dtype=np.int64).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise fail("has reference ids that are not integers") from exc
        if not person_ids.size == ref_ids.size == fields["count"]:
            raise fail("lists a different number of ids than its count")
        try:
            calibration = Calibration.from_dict(data.get("calibration") or {})
        except ConfigError as exc:
            raise fail(f"has a bad calibration: {exc.msg}") from exc
        if calibration.modality != modality:
            raise fail(
                f"holds a {calibration.modality} calibration for a {modality} index"
            )
        return cls(
            modality=modality,
            kind=cast(IndexKind, kind),
            count=fields["count"],
            revision=fields["revision"],
            calibration=calibration,
            faiss_file=name,
            faiss_sha256=fields["faiss_sha256"],
            person_ids=person_ids,
            ref_ids=ref_ids,
        )

    def check_against(self, index: Any, path: Path) -> None:
        """The FAISS file must be the index the sidecar describes."""
        expected = _FAISS_METRIC[_METRICS[self.modality]]
        if index.d != DIMS[self.modality] or index.metric_type != expected:
            msg = f"FAISS index has dims {index.d}, not what {SIDECAR} says"
            raise StorageError(msg, path=path)
        if index.ntotal != self.count:
            msg = f"FAISS index holds {index.ntotal} vectors; {SIDECAR}: {self.count}"
            raise StorageError(msg, path=path)
        is_hnsw = isinstance(index, faiss.IndexHNSW)
        if is_hnsw != (self.kind == "hnsw"):
            msg = f"FAISS index type does not match kind {self.kind!r} in {SIDECAR}"
            raise StorageError(msg, path=path)
