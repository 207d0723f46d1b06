"""Thresholds at a target false-match rate, and calibrated probabilities.

What is asserted:

* on simulated normal scores the fitted threshold holds the false-match rate
  at or below the target on a fresh sample of a million impostor scores, from
  fits on 30 to 5,000 impostor scores (fixed seeds);
* the threshold is never below the empirical one, even for impostor scores
  with a heavy tail a normal model underestimates;
* the probability rises with the score for any pair of models (property
  test), is 0.5 where the prior-weighted densities cross, and stays in (0, 1);
* the shipped defaults are reproduced from ../shared/data with today's face
  and voice engines: the face models within 0.01 of the constants, and on a
  subset of the voices (2 utterances of each of the 10 speakers, against 10
  in the measurement, to stay fast) the models within 0.025;
* malformed input is refused with a one-line deepguard error.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepguard.config import Limits
from deepguard.errors import ConfigError, InvalidSignal
from deepguard.likeness.calibration import (
    Calibration,
    default_calibration,
    distance_to_score,
    fit,
    pair_scores,
    tolerance_factor,
)

RNG_SEED = 20250901


def simulate(n_genuine: int, n_impostor: int, seed: int = RNG_SEED) -> tuple:
    rng = np.random.default_rng(seed)
    return rng.normal(0.62, 0.07, n_genuine), rng.normal(0.12, 0.08, n_impostor)


# --- the threshold ------------------------------------------------------------


@pytest.mark.parametrize("n_impostor", [30, 300, 5000])
@pytest.mark.parametrize("target", [1e-2, 1e-3])
def test_threshold_holds_the_false_match_rate_on_fresh_scores(
    n_impostor: int, target: float
) -> None:
    genuine, impostor = simulate(200, n_impostor)
    calibration = fit(genuine, impostor, modality="face", target_fmr=target)
    fresh = np.random.default_rng(7).normal(0.12, 0.08, 1_000_000)
    rate = float(np.mean(fresh >= calibration.threshold))
    assert rate <= target
    # ... and it is not absurdly strict: the genuine scores still pass.
    assert np.mean(genuine >= calibration.threshold) > 0.6


def test_few_impostors_give_a_stricter_threshold_than_many() -> None:
    genuine, impostor = simulate(100, 5000)
    many = fit(genuine, impostor, modality="face")
    few = fit(genuine, impostor[:20], modality="face")
    assert few.threshold > many.threshold
    plain_quantile = 0.12 + 3.0902 * 0.08
    assert many.threshold == pytest.approx(plain_quantile, abs=0.02)


def test_effective_n_widens_the_margin() -> None:
    genuine, impostor = simulate(100, 2000)
    pairs = fit(genuine, impostor, modality="face")
    faces = fit(genuine, impostor, modality="face", effective_n=19)
    assert faces.threshold > pairs.threshold + 0.05


def test_threshold_is_never_below_the_empirical_one() -> None:
    # A heavy right tail: 2% of impostors sit far above the normal bulk.
    rng = np.random.default_rng(3)
    impostor = np.concatenate([rng.normal(0.1, 0.05, 4900), rng.normal(0.6, 0.02, 100)])
    genuine = rng.normal(0.8, 0.05, 500)
    calibration = fit(genuine, impostor, modality="face", target_fmr=1e-3)
    assert np.sum(impostor >= calibration.threshold) <= math.floor(1e-3 * impostor.size)
    modelled = impostor.mean() + tolerance_factor(5000, 0.999, 0.95) * impostor.std(
        ddof=1
    )
    assert calibration.threshold > modelled


def test_empirical_threshold_sits_just_above_the_highest_allowed_score() -> None:
    # 10 of 50 impostors far out: the normal model (mean 0.26, sd 0.32) puts
    # the 0.9 quantile near 0.78, but 5 may pass and the 6th highest is 0.9.
    impostor = [0.1 + i * 1e-3 for i in range(40)] + [0.9] * 10
    calibration = fit([0.95, 0.97], impostor, modality="voice", target_fmr=0.1)
    assert calibration.threshold == np.nextafter(0.9, 1.0)
    assert not calibration.accepts(0.9)
    assert calibration.accepts(0.9 + 1e-9)


@pytest.mark.parametrize(
    ("n", "coverage", "confidence", "exact"),
    # Exact one-sided normal tolerance factors (non-central t).
    [
        (10, 0.99, 0.95, 3.9811),
        (19, 0.999, 0.95, 4.3640),
        (20, 0.99, 0.95, 3.2952),
        (100, 0.999, 0.95, 3.5395),
        (1000, 0.999, 0.95, 3.2200),
        (50, 0.90, 0.99, 1.8208),
    ],
)
def test_tolerance_factor_matches_tables(
    n: int, coverage: float, confidence: float, exact: float
) -> None:
    assert tolerance_factor(n, coverage, confidence) == pytest.approx(exact, rel=0.011)


def test_tolerance_factor_refuses_tiny_samples() -> None:
    with pytest.raises(ConfigError, match="too few"):
        tolerance_factor(2, 0.999, 0.95)


# --- the probability -----------------------------------------------------------


def test_probability_is_one_half_where_the_weighted_densities_cross() -> None:
    equal = Calibration("face", 1e-3, 0.5, (0.6, 0.1), (0.2, 0.1), 0.5, "test")
    assert equal.probability(0.4) == pytest.approx(0.5)
    assert equal.probability(0.3) < 0.5 < equal.probability(0.5)
    # A prior of 0.2 moves the crossing towards the genuine side by
    # sd^2 * ln(4) / (mean difference) = 0.01 * 1.386 / 0.4.
    rare = Calibration("face", 1e-3, 0.5, (0.6, 0.1), (0.2, 0.1), 0.2, "test")
    assert rare.probability(0.4 + 0.01 * math.log(4) / 0.4) == pytest.approx(0.5)


def test_probability_of_the_face_default_around_its_threshold() -> None:
    face = default_calibration("face")
    assert face.probability(face.threshold) > 0.99
    assert face.probability(distance_to_score(0.7)) < 0.01  # the closest impostor
    assert face.probability(distance_to_score(0.0)) < 1.0
    assert face.probability(distance_to_score(2.0)) > 0.0


models = st.tuples(
    st.floats(-1.0, 1.0),
    st.floats(0.01, 0.5),
    st.floats(0.01, 1.0),
    st.floats(0.01, 0.5),
)


@settings(max_examples=200, deadline=None)
@given(
    models,
    st.floats(0.01, 0.99),
    st.lists(st.floats(-3.0, 3.0), min_size=2, max_size=30),
)
def test_probability_never_falls_as_the_score_rises(
    model: tuple[float, float, float, float], prior: float, scores: list[float]
) -> None:
    impostor_mean, impostor_sd, gap, genuine_sd = model
    calibration = Calibration(
        "voice",
        1e-3,
        0.5,
        (impostor_mean + gap, genuine_sd),
        (impostor_mean, impostor_sd),
        prior,
        "property",
    )
    ordered = sorted(scores)
    probabilities = [calibration.probability(s) for s in ordered]
    assert all(0.0 < p < 1.0 for p in probabilities)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(probabilities))


def test_a_wider_genuine_model_does_not_make_very_low_scores_likely() -> None:
    # Without the monotone clamp, s = -2 would have a likelihood ratio > 1.
    wide = Calibration("face", 1e-3, 0.4, (0.6, 0.3), (0.1, 0.05), 0.5, "test")

    def unclamped(s: float) -> float:
        ratio = (math.exp(-0.5 * ((s - 0.6) / 0.3) ** 2) / 0.3) / (
            math.exp(-0.5 * ((s - 0.1) / 0.05) ** 2) / 0.05
        )
        return ratio / (1.0 + ratio)

    assert unclamped(-0.2) > 0.9  # the naive posterior turns back up
    # The ratio is lowest at s = (40 - 6.67) / 388.9 = 0.0857; below, flat.
    floor = wide.probability(0.0857)
    assert floor == pytest.approx(unclamped(0.0857), rel=1e-3)
    assert wide.probability(-2.0) == wide.probability(-0.2) == floor
    assert floor < 0.05


# --- (de)serialisation and errors ---------------------------------------------


def test_round_trip_through_json() -> None:
    calibration = fit(*simulate(50, 500), modality="voice", source="background set A")
    text = json.dumps(calibration.to_dict())
    assert Calibration.from_dict(json.loads(text)) == calibration


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modality": "iris"}, "unknown modality"),
        ({"target_fmr": 0.7}, "target_fmr"),
        ({"prior": 0.0}, "prior"),
        ({"threshold": "high"}, "must be a number"),
        ({"genuine": [0.5]}, "malformed"),
        ({"impostor": [0.1, -0.1]}, "sd > 0"),
        ({"genuine": [0.0, 0.1], "impostor": [0.2, 0.1]}, "above impostor"),
        ({"source": None}, "strings"),
    ],
)
def test_from_dict_refuses_bad_fields(change: dict, message: str) -> None:
    data = default_calibration("face").to_dict() | change
    with pytest.raises(ConfigError, match=message) as info:
        Calibration.from_dict(data)
    assert "\n" not in str(info.value)


def test_from_dict_refuses_missing_fields() -> None:
    data = default_calibration("voice").to_dict()
    del data["threshold"]
    with pytest.raises(ConfigError, match="missing"):
        Calibration.from_dict(data)


@pytest.mark.parametrize(
    ("genuine", "impostor", "error", "message"),
    [
        ([0.9], [0.1, 0.2], InvalidSignal, "at least 2 genuine"),
        ([0.9, 0.8], [], InvalidSignal, "at least 2 impostor"),
        ([0.9, float("nan")], [0.1, 0.2], InvalidSignal, "NaN"),
        ([0.1, 0.2], [0.8, 0.9], ConfigError, "above impostor"),
    ],
)
def test_fit_refuses_bad_scores(
    genuine: list[float], impostor: list[float], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        fit(genuine, impostor, modality="face")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"modality": "iris"},
        {"modality": "face", "target_fmr": 0.0},
        {"modality": "face", "confidence": 1.0},
    ],
)
def test_fit_refuses_bad_settings(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        fit([0.9, 0.8], [0.1, 0.2], **kwargs)


def test_probability_of_nan_is_refused() -> None:
    with pytest.raises(InvalidSignal):
        default_calibration("voice").probability(float("nan"))


def test_default_calibration_follows_the_target() -> None:
    strict = default_calibration("face", 1e-4)
    loose = default_calibration("face", 1e-2)
    assert strict.threshold > default_calibration("face").threshold > loose.threshold
    with pytest.raises(ConfigError):
        default_calibration("iris")


def test_pair_scores_split_and_metrics() -> None:
    a = np.zeros(128)
    b = np.zeros(128)
    b[0] = 0.3
    c = np.zeros(128)
    c[1] = 1.0
    genuine, impostor = pair_scores([a, b, c], ["x", "x", "y"], modality="face")
    assert genuine.tolist() == pytest.approx([0.7])
    assert sorted(impostor.tolist()) == pytest.approx([1 - math.sqrt(1.09), 0.0])
    u = np.zeros(256)
    u[0] = 2.0
    v = np.zeros(256)
    v[:2] = 1.0
    genuine, impostor = pair_scores([u, v], [1, 1], modality="voice")
    assert genuine.tolist() == pytest.approx([1 / math.sqrt(2)])
    assert impostor.size == 0
    with pytest.raises(InvalidSignal, match="shape"):
        pair_scores(np.zeros((2, 5)), [1, 2], modality="face")
    with pytest.raises(InvalidSignal, match="labels"):
        pair_scores(np.zeros((2, 128)), [1], modality="face")
    with pytest.raises(InvalidSignal, match="zeros"):
        pair_scores(np.zeros((2, 256)), [1, 2], modality="voice")


# --- the shipped defaults, re-measured --------------------------------------------

# Faces left to right in the photos that show more than one person.
MULTI = {
    "test/kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
    "test/obama_and_biden.jpg": ["biden", "obama", "unknown girl"],
    "extra_two_people.jpg": ["obama", "biden"],  # Obama and Biden, not new people
}
SINGLE = {
    "test/alex_lacamoire1.jpg": "alex_lacamoire",
    "test/johnsnow_test1.jpg": "kit_harington",
    "test/obama1.jpg": "obama",
}


@pytest.mark.shared_data
@pytest.mark.slow
def test_face_default_is_reproduced_from_shared_faces(shared_data: Path) -> None:
    from deepguard.likeness.faces import FaceEngine, load_faces

    root = shared_data / "faces"
    photos = [(p, [p.parent.name]) for p in sorted(root.glob("train/*/*"))]
    photos += [(root / name, [who]) for name, who in SINGLE.items()]
    photos += [(root / name, who) for name, who in MULTI.items()]
    engine = FaceEngine()
    embeddings, labels = [], []
    for path, people in photos:
        faces = sorted(
            load_faces(path, limits=Limits(), engine=engine), key=lambda f: f.box[0]
        )
        assert [f.comparable for f in faces] == [True] * len(people), path.name
        embeddings += [f.embedding for f in faces]
        labels += people
    genuine, impostor = pair_scores(embeddings, labels, modality="face")
    assert (genuine.size, impostor.size) == (26, 145)
    measured = fit(genuine, impostor, modality="face", effective_n=19)
    default = default_calibration("face")
    for got, want in zip(
        measured.genuine + measured.impostor,
        default.genuine + default.impostor,
        strict=True,
    ):
        assert got == pytest.approx(want, abs=0.01)
    assert measured.threshold == pytest.approx(default.threshold, abs=0.01)
    # Every genuine pair passes at 1e-3, no impostor does, and the threshold is
    # stricter than dlib's published operating point (distance 0.6).
    assert np.all(genuine >= default.threshold)
    assert not np.any(impostor >= default.threshold)
    assert default.threshold > distance_to_score(0.6)


@pytest.mark.shared_data
@pytest.mark.slow
def test_voice_default_is_reproduced_on_a_subset(shared_data: Path) -> None:
    from deepguard.likeness.voices import VoiceEngine, load_voice

    root = shared_data / "voices" / "librispeech_test-other"
    speakers = sorted(p for p in root.iterdir() if p.is_dir())
    engine = VoiceEngine(threads=1)
    references: list[tuple[str, str, np.ndarray]] = []
    windows: list[tuple[str, str, np.ndarray]] = []
    for speaker in speakers:
        for path in sorted(speaker.glob("*.flac"))[:2]:
            samples = load_voice(path, limits=Limits())
            whole = engine.embed(samples)
            if whole.speech_s >= 5.0:
                references.append((speaker.name, path.name, whole.embedding))
            windows += [
                (speaker.name, path.name, w.embedding)
                for w in engine.windows(samples)
                if w.embedding is not None
            ]
    genuine, impostor = [], []
    for (ref_speaker, ref_file, ref), (speaker, file, window) in itertools.product(
        references, windows
    ):
        if file != ref_file:
            score = float(np.dot(ref, window))
            (genuine if speaker == ref_speaker else impostor).append(score)
    measured = fit(genuine, impostor, modality="voice", effective_n=100)
    default = default_calibration("voice")
    for got, want in zip(
        measured.genuine + measured.impostor,
        default.genuine + default.impostor,
        strict=True,
    ):
        assert got == pytest.approx(want, abs=0.025)
    assert np.mean(np.asarray(genuine) >= default.threshold) > 0.9
    assert not np.any(np.asarray(impostor) >= default.threshold)
