"""Match thresholds at a target false-match rate, and calibrated probabilities.

A likeness match is only useful if a platform can say how often it is wrong.
So the decision threshold is not a round number but the score that holds the
false-match rate (the share of different-person comparisons accepted) at or
below a target, and every match also carries a posterior probability that the
two samples show the same person.

Scores. One convention for both modalities, higher = more alike::

    score = 1 - distance

where the distance is the Euclidean distance between dlib face descriptors
(dlib's own metric; its published operating point is distance 0.6) and, for
voices, the cosine distance ``1 - cos`` between L2-normalised Resemblyzer
embeddings, so a voice score *is* the cosine similarity.

Why a model of the impostor scores and not only their empirical quantile: at a
target of 1e-3 the empirical quantile needs thousands of independent
different-person pairs before it means anything, and a background set rarely
has them. :func:`fit` therefore models the impostor scores as a normal
distribution and takes an upper *tolerance* bound on its ``1 - target_fmr``
quantile (the quantile itself, widened for the size of the sample, so that
the false-match rate holds with the stated confidence), then keeps the
stricter of that and the empirical threshold.

The rate is per comparison: one query against one person. A search compares a
query with every enrolled person, so the chance that a stranger matches
*someone* grows with the registry, to about ``N * target_fmr`` for ``N``
people. A deployment that wants at most ``r`` false alarms per searched face
with ``N`` people enrolled calibrates with ``target_fmr = r / N``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Final, Literal, Self, get_args

import numpy as np
import numpy.typing as npt

from deepguard.errors import ConfigError, InvalidSignal

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_PRIOR",
    "DEFAULT_TARGET_FMR",
    "DIMS",
    "Calibration",
    "Modality",
    "default_calibration",
    "distance_to_score",
    "fit",
    "pair_scores",
    "tolerance_factor",
]

Modality = Literal["face", "voice"]
MODALITIES: Final[tuple[Modality, ...]] = get_args(Modality)

DIMS: Final[Mapping[Modality, int]] = {"face": 128, "voice": 256}
"""Embedding length per modality: dlib descriptors and GE2E embeddings."""

DEFAULT_TARGET_FMR: Final = 1e-3
DEFAULT_CONFIDENCE: Final = 0.95
DEFAULT_PRIOR: Final = 0.5
"""Prior probability that a compared pair is the same person.

0.5 makes the probability report the evidence in the score alone (even odds).
A deployment that knows its base rate (most uploads show nobody enrolled) can
fit with a smaller prior; the threshold does not depend on it.
"""

_MIN_SD: Final = 1e-3
"""Floor on fitted standard deviations: a handful of near-identical scores
must not produce a zero-width distribution and infinite likelihood ratios."""

_P_FLOOR: Final = 1e-6
"""Probabilities are kept within [1e-6, 1 - 1e-6]: the normal models are not
trustworthy that far into their tails, and a report should never say 0 or 1."""

_STANDARD = NormalDist()


def _check_modality(modality: str) -> Modality:
    if modality not in MODALITIES:
        msg = f"unknown modality {modality!r}; expected 'face' or 'voice'"
        raise ConfigError(msg)
    return modality  # narrowed by the membership test


def _check_rate(name: str, value: float, upper: float) -> float:
    if not (isinstance(value, int | float) and 0.0 < value < upper):
        msg = (
            f"{name} must be a number between 0 and {upper} (exclusive), got {value!r}"
        )
        raise ConfigError(msg)
    return float(value)


def distance_to_score(distance: float) -> float:
    """The score for a distance: ``1 - distance`` (higher = more alike)."""
    return 1.0 - distance


@dataclass(frozen=True, slots=True)
class Calibration:
    """A decision threshold and the score models behind it, for one modality.

    ``genuine`` and ``impostor`` are the (mean, standard deviation) of the
    normal models of same-person and different-person scores. ``source`` says
    where the numbers came from, so a stored index can be audited.

    Raises:
        ConfigError: a field is out of range (also from :meth:`from_dict`).
    """

    modality: Modality
    target_fmr: float
    threshold: float
    genuine: tuple[float, float]
    impostor: tuple[float, float]
    prior: float
    source: str

    def __post_init__(self) -> None:
        _check_modality(self.modality)
        _check_rate("target_fmr", self.target_fmr, 0.5)
        _check_rate("prior", self.prior, 1.0)
        if not math.isfinite(self.threshold):
            msg = f"calibration threshold must be finite, got {self.threshold!r}"
            raise ConfigError(msg)
        for name, (mean, sd) in (
            ("genuine", self.genuine),
            ("impostor", self.impostor),
        ):
            if not (math.isfinite(mean) and math.isfinite(sd) and sd > 0):
                msg = f"calibration {name} model needs a finite mean and sd > 0"
                raise ConfigError(msg)
        if self.genuine[0] <= self.impostor[0]:
            msg = (
                "calibration genuine scores must lie above impostor scores "
                f"(means {self.genuine[0]:.4f} <= {self.impostor[0]:.4f})"
            )
            raise ConfigError(msg)

    def accepts(self, score: float) -> bool:
        """Whether a score is a match at this calibration's false-match rate."""
        return score >= self.threshold

    def probability(self, score: float) -> float:
        """Posterior probability that the pair shows the same person.

        Bayes' rule on the two normal densities and the prior. Two normals
        with different spreads have a likelihood ratio that turns back in one
        tail (a very low score would look "genuine" again if the genuine
        model is the wider one); the score is clamped to the range where the
        ratio rises, so the probability never decreases as the score rises.
        Equal to 0.5 where ``prior * genuine density`` crosses
        ``(1 - prior) * impostor density``.
        """
        if math.isnan(score):
            msg = "cannot compute a probability for a NaN score"
            raise InvalidSignal(msg)
        low, high = self._monotone_range()
        s = min(max(score, low), high)
        log_odds = self._log_lr(s) + math.log(self.prior / (1.0 - self.prior))
        p = 1.0 / (1.0 + math.exp(-log_odds)) if log_odds > -700 else 0.0
        return min(max(p, _P_FLOOR), 1.0 - _P_FLOOR)

    def _log_lr(self, s: float) -> float:
        (mg, sg), (mi, si) = self.genuine, self.impostor
        zg, zi = (s - mg) / sg, (s - mi) / si
        return -0.5 * zg * zg + 0.5 * zi * zi + math.log(si / sg)

    def _monotone_range(self) -> tuple[float, float]:
        """The score interval on which the log likelihood ratio increases.

        Its derivative is ``(s - mi)/si^2 - (s - mg)/sg^2``, zero at one point
        when the spreads differ; on the far side of it the ratio turns back.
        """
        (mg, sg), (mi, si) = self.genuine, self.impostor
        curvature = 1.0 / si**2 - 1.0 / sg**2
        if abs(curvature) < 1e-12:
            return -math.inf, math.inf
        turn = (mi / si**2 - mg / sg**2) / curvature
        # Wider genuine model (curvature > 0): the ratio has a minimum; below
        # it, hold it flat. Wider impostor model: a maximum; above it, flat.
        return (turn, math.inf) if curvature > 0 else (-math.inf, turn)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in an index's sidecar."""
        return {
            "modality": self.modality,
            "target_fmr": self.target_fmr,
            "threshold": self.threshold,
            "genuine": list(self.genuine),
            "impostor": list(self.impostor),
            "prior": self.prior,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a calibration from :meth:`to_dict` output.

        Raises:
            ConfigError: a field is missing, of the wrong type or out of range.
        """
        try:
            genuine = _pair(data["genuine"])
            impostor = _pair(data["impostor"])
            values = {k: data[k] for k in ("target_fmr", "threshold", "prior")}
            modality, source = data["modality"], data["source"]
        except (KeyError, TypeError) as exc:
            msg = f"calibration is missing or has a malformed field ({exc})"
            raise ConfigError(msg) from exc
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                msg = f"calibration field {name!r} must be a number, got {value!r}"
                raise ConfigError(msg)
        if not isinstance(modality, str) or not isinstance(source, str):
            msg = "calibration fields 'modality' and 'source' must be strings"
            raise ConfigError(msg)
        return cls(
            modality=_check_modality(modality),
            target_fmr=float(values["target_fmr"]),
            threshold=float(values["threshold"]),
            genuine=genuine,
            impostor=impostor,
            prior=float(values["prior"]),
            source=source,
        )


def _pair(value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        )
    ):
        msg = f"expected [mean, sd], got {value!r}"
        raise TypeError(msg)
    return float(value[0]), float(value[1])


def tolerance_factor(n: int, coverage: float, confidence: float) -> float:
    """One-sided normal tolerance factor ``k`` (Natrella's approximation).

    ``mean + k * sd`` of ``n`` normal samples lies above the ``coverage``
    quantile of the population with probability ``confidence``. It tends to
    the plain normal quantile as ``n`` grows; for small samples it is what
    keeps a threshold from trusting an sd estimated from a handful of scores.
    Accurate to about 1% against exact tables for ``n >= 10``.

    Raises:
        ConfigError: ``n`` is too small for the requested confidence.
    """
    z_p = _STANDARD.inv_cdf(coverage)
    z_g = _STANDARD.inv_cdf(confidence)
    a = 1.0 - z_g * z_g / (2.0 * (n - 1)) if n > 1 else -1.0
    b = z_p * z_p - z_g * z_g / n
    if a <= 0.0:
        msg = f"{n} impostor samples are too few for a tolerance bound at {confidence}"
        raise ConfigError(msg)
    return (z_p + math.sqrt(z_p * z_p - a * b)) / a


def _scores(
    name: str, values: Sequence[float] | npt.ArrayLike
) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size < 2:
        msg = f"need at least 2 {name} scores to fit a calibration, got {array.size}"
        raise InvalidSignal(msg)
    if not np.all(np.isfinite(array)):
        msg = f"{name} scores contain NaN or infinite values"
        raise InvalidSignal(msg)
    return array


def _empirical_threshold(impostor: npt.NDArray[np.float64], target_fmr: float) -> float:
    """The lowest threshold that accepts at most ``target_fmr`` of the sample.

    ``floor(target_fmr * n)`` impostor scores may reach the threshold; it
    sits just above the next one. With fewer than ``1 / target_fmr`` scores
    that is just above the highest impostor score.
    """
    allowed = math.floor(target_fmr * impostor.size)
    ordered = np.sort(impostor)[::-1]
    return float(np.nextafter(ordered[allowed], np.inf))


def fit(
    genuine_scores: Sequence[float] | npt.ArrayLike,
    impostor_scores: Sequence[float] | npt.ArrayLike,
    *,
    modality: str,
    target_fmr: float = DEFAULT_TARGET_FMR,
    prior: float = DEFAULT_PRIOR,
    confidence: float = DEFAULT_CONFIDENCE,
    effective_n: int | None = None,
    source: str = "fitted",
) -> Calibration:
    """Fit a calibration from same-person and different-person scores.

    The threshold is the larger of the empirical one (at most ``target_fmr``
    of the given impostor scores accepted) and ``mean + k * sd`` of a normal
    fit to the impostor scores, ``k`` the tolerance factor for ``effective_n``
    samples at ``confidence``. Scores of all pairs among a set of faces are
    not independent (each face takes part in many pairs), so pass the number
    of distinct samples behind them as ``effective_n`` when it is much
    smaller than the number of pairs; it defaults to the number of impostor
    scores.

    Raises:
        InvalidSignal: fewer than 2 scores of a kind, or non-finite scores.
        ConfigError: a rate out of range, or genuine scores not above
            impostor scores on average.
    """
    checked = _check_modality(modality)
    fmr = _check_rate("target_fmr", target_fmr, 0.5)
    _check_rate("confidence", confidence, 1.0)
    genuine = _scores("genuine", genuine_scores)
    impostor = _scores("impostor", impostor_scores)
    n = impostor.size if effective_n is None else effective_n
    g_model = (float(genuine.mean()), max(float(genuine.std(ddof=1)), _MIN_SD))
    i_model = (float(impostor.mean()), max(float(impostor.std(ddof=1)), _MIN_SD))
    if g_model[0] <= i_model[0]:
        msg = (
            "genuine scores must lie above impostor scores on average "
            f"({g_model[0]:.4f} <= {i_model[0]:.4f}); are the labels swapped?"
        )
        raise ConfigError(msg)
    k = tolerance_factor(n, 1.0 - fmr, confidence)
    modelled = i_model[0] + k * i_model[1]
    threshold = max(modelled, _empirical_threshold(impostor, fmr))
    return Calibration(
        modality=checked,
        target_fmr=fmr,
        threshold=threshold,
        genuine=g_model,
        impostor=i_model,
        prior=prior,
        source=source,
    )


def pair_scores(
    embeddings: npt.ArrayLike, labels: Sequence[object], *, modality: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Scores of all pairs of embeddings, split into same-label and different.

    The background set a user recalibrates from: embeddings of known people,
    one label per embedding. Faces are compared by Euclidean distance, voices
    by cosine similarity, exactly as the index compares them.

    Raises:
        InvalidSignal: shapes do not match, or the embeddings are not finite.
    """
    checked = _check_modality(modality)
    vectors = np.asarray(embeddings, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[1] != DIMS[checked]:
        msg = (
            f"expected {checked} embeddings of shape (n, {DIMS[checked]}), "
            f"got {vectors.shape}"
        )
        raise InvalidSignal(msg)
    if len(labels) != vectors.shape[0]:
        msg = f"{len(labels)} labels for {vectors.shape[0]} embeddings"
        raise InvalidSignal(msg)
    if not np.all(np.isfinite(vectors)):
        msg = "embeddings contain NaN or infinite values"
        raise InvalidSignal(msg)
    if checked == "voice":
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if np.any(norms == 0):
            msg = "a voice embedding is all zeros"
            raise InvalidSignal(msg)
        unit = vectors / norms
        scores = unit @ unit.T
    else:
        squared = np.sum(vectors * vectors, axis=1)
        d2 = squared[:, None] + squared[None, :] - 2.0 * (vectors @ vectors.T)
        scores = 1.0 - np.sqrt(np.maximum(d2, 0.0))
    genuine: list[float] = []
    impostor: list[float] = []
    for i, j in itertools.combinations(range(vectors.shape[0]), 2):
        (genuine if labels[i] == labels[j] else impostor).append(float(scores[i, j]))
    return np.asarray(genuine), np.asarray(impostor)


# Measured defaults -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Measured:
    """Normal models of scores measured on public data, and their sample size."""

    genuine: tuple[float, float]
    impostor: tuple[float, float]
    effective_n: int


_FACE_DEFAULT: Final = _Measured(
    genuine=(0.6233, 0.0735),  # score = 1 - distance 0.3767
    impostor=(0.1194, 0.0780),  # score = 1 - distance 0.8806
    effective_n=19,
)
"""dlib face descriptors on ../shared/data/faces, measured by fitting.

Data: every face that faces.load_faces (FaceEngine defaults: HOG detector on
a copy at most 1280 px long, 5-point alignment on the full image,
dlib_face_recognition_resnet_model_v1, num_jitters=0) finds in faces/train
(9 photos), faces/test (5 photos) and extra_two_people.jpg: 19 faces, all
comparable, of 6 people (alex_lacamoire 2, biden 4, kit_harington 4, obama
5, rose_leslie 3, and the unnamed girl in the corner of obama_and_biden.jpg
1). extra_two_people.jpg shows Obama and Biden, so its faces are genuine for
them, not new identities. All 171 pairs: 26 genuine, 145 impostor.

Euclidean distances: genuine mean 0.3767, sd 0.0735, min 0.0584, max 0.4640
(kit_with_rose vs johnsnow_test1); impostor mean 0.8806, sd 0.0780, min
0.7028 (obama2 vs alex_lacamoire1), max 1.1070. Scores are 1 - distance.
(Calling dlib directly with the HOG detector at upsample 1 on the full
images gives 0.3782 +- 0.0713 and 0.8770 +- 0.0782.)

Sample size: 145 impostor pairs among 19 faces are far from independent, so
the tolerance bound uses effective_n = 19 (k = 4.34 at 1e-3, 95% confidence,
against 3.09 for a known normal). Threshold at 1e-3: distance 0.5422. That
is stricter than dlib's published operating point (0.6, 99.38% on LFW
pairs), as it should be: 0.6 balances both errors, 1e-3 bounds false
matches only. On the measuring pairs it accepts every genuine pair.
"""


_VOICE_DEFAULT: Final = _Measured(
    genuine=(0.8506, 0.0466),
    impostor=(0.5178, 0.0660),
    effective_n=100,
)
"""Resemblyzer voice embeddings on ../shared/data/voices, measured by fitting.

Data: LibriSpeech test-other, 10 speakers x 10 read English utterances (2.0
to 22.8 s, median 6.6 s), decoded with voices.load_voice. The pairs mirror
how a scan compares: a *reference* is the whole-clip embedding
(VoiceEngine.embed) of each of the 48 utterances with at least 5 s of speech
(the enrolment minimum); a *query* is every embedded window of
VoiceEngine.windows (3 s windows, 1.5 s hop, at least 1 s of speech) of
every utterance, 464 windows in all. Every reference against every window of
the other 99 utterances: 1,950 genuine and 19,978 impostor scores (cosine
similarities).

Scores: genuine mean 0.8506, sd 0.0466, min 0.6625, max 0.9550; impostor
mean 0.5178, sd 0.0660, min 0.3219, max 0.7463. Equal error rate 0.4%.
(Whole utterance against whole utterance, for comparison: genuine 0.8684 +-
0.0531, impostor 0.5250 +- 0.0703, 450 and 4,500 pairs.)

Sample size: the scores come from 100 recordings of only 10 speakers, so the
tolerance bound uses effective_n = 100 (k = 3.53 at 1e-3, 95% confidence).
Threshold at 1e-3: cosine 0.7511. On the measuring pairs it accepts 97.2% of
genuine windows and no impostor (the highest impostor is 0.7463). Windows of
the impostor scores lie slightly above a normal tail at 3.09 sd (0.14%
against 0.10%), which the tolerance margin covers. Clean read speech: noisy,
compressed or music-backed uploads will score lower for the same speaker.
"""


def default_calibration(
    modality: str, target_fmr: float = DEFAULT_TARGET_FMR
) -> Calibration:
    """The shipped calibration for a modality, from public data (see above).

    The threshold is recomputed for ``target_fmr`` from the measured normal
    models with the same tolerance rule as :func:`fit`; the empirical
    threshold of the measuring run is not stored, it lay below the modelled
    one for both modalities.

    Raises:
        ConfigError: unknown modality or rate out of range.
    """
    checked = _check_modality(modality)
    fmr = _check_rate("target_fmr", target_fmr, 0.5)
    measured = _FACE_DEFAULT if checked == "face" else _VOICE_DEFAULT
    n = measured.effective_n
    k = tolerance_factor(n, 1.0 - fmr, DEFAULT_CONFIDENCE)
    mean, sd = measured.impostor
    return Calibration(
        modality=checked,
        target_fmr=fmr,
        threshold=mean + k * sd,
        genuine=measured.genuine,
        impostor=measured.impostor,
        prior=DEFAULT_PRIOR,
        source=f"deepguard default ({checked}, shared data, n_eff={n})",
    )
