"""BCH coding of watermark payloads: correction power, Chase retries, refusals.

Why this is tested apart from the marks: the detectors trust ``Decoded.ok``.
A decoder that reports "ok" for a word it did not really correct turns a
noisy detection into a confident, wrong payload, i.e. a wrong producer.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest

from deepguard.watermark._osd import OrderedStatisticsDecoder, log2_chance_of_fit
from deepguard.watermark._tile import payload_code
from deepguard.watermark.ecc import BchCode

Bits = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def code() -> BchCode:
    """The payload code of the image and video marks: 64 data bits, t = 8."""
    return BchCode(data_bits=64, t=8, m=7)


def _received(
    code: BchCode, rng: np.random.Generator, errors: int
) -> tuple[Bits, Bits, npt.NDArray[np.intp]]:
    """Random data, its coded word with ``errors`` flipped bits, and where."""
    data = rng.integers(0, 2, code.data_bits).astype(np.uint8)
    word = code.encode(data)
    where = rng.choice(code.coded_bits, size=errors, replace=False)
    word[where] ^= 1
    return data, word, where


def _soft(word: Bits) -> npt.NDArray[np.float64]:
    """Hard decisions as soft values: every bit equally sure."""
    return word.astype(np.float64) * 2 - 1


def test_layout_is_systematic(code: BchCode) -> None:
    assert (code.data_bits, code.ecc_bits, code.coded_bits) == (64, 56, 120)
    data = np.random.default_rng(1).integers(0, 2, 64).astype(np.uint8)
    word = code.encode(data)
    assert word.dtype == np.uint8
    assert word.shape == (120,)
    assert np.array_equal(word[:64], data)
    # Parity depends on the data: a one-bit change moves at least 2t parity bits
    # (the code's distance is at least 2t + 1 = 17).
    flipped = data.copy()
    flipped[17] ^= 1
    assert int(np.count_nonzero(code.encode(flipped)[64:] != word[64:])) >= 16


def test_round_trip_without_errors(code: BchCode) -> None:
    rng = np.random.default_rng(2)
    for data in (
        np.zeros(64, np.uint8),
        np.ones(64, np.uint8),
        *(rng.integers(0, 2, 64).astype(np.uint8) for _ in range(20)),
    ):
        decoded = code.decode(_soft(code.encode(data)))
        assert decoded.ok
        assert decoded.corrected == 0
        assert np.array_equal(decoded.bits, data)


@pytest.mark.parametrize("errors", range(1, 9))
def test_corrects_up_to_t_errors(code: BchCode, errors: int) -> None:
    rng = np.random.default_rng(100 + errors)
    for _ in range(60):
        data, word, _ = _received(code, rng, errors)
        decoded = code.decode(_soft(word))
        assert decoded.ok
        assert decoded.corrected == errors
        assert np.array_equal(decoded.bits, data)


@pytest.mark.parametrize("region", ["data", "parity"])
def test_corrects_t_errors_in_one_region(code: BchCode, region: str) -> None:
    rng = np.random.default_rng(7)
    positions = np.arange(64) if region == "data" else np.arange(64, 120)
    for _ in range(40):
        data = rng.integers(0, 2, 64).astype(np.uint8)
        word = code.encode(data)
        word[rng.choice(positions, size=8, replace=False)] ^= 1
        decoded = code.decode(_soft(word))
        assert decoded.ok
        assert np.array_equal(decoded.bits, data)


@pytest.mark.parametrize(
    ("data_bits", "t", "m"),
    [
        (16, 3, 5),  # 15 parity bits: the last byte is partial
        (32, 4, 6),  # 24 parity bits: whole bytes
        (48, 6, 7),  # 42 parity bits: the last byte is partial
    ],
)
def test_other_codes_correct_t_errors(data_bits: int, t: int, m: int) -> None:
    code = BchCode(data_bits=data_bits, t=t, m=m)
    rng = np.random.default_rng(data_bits)
    for _ in range(40):
        data, word, _ = _received(code, rng, t)
        decoded = code.decode(_soft(word))
        assert decoded.ok
        assert np.array_equal(decoded.bits, data)


def test_chase_recovers_nine_errors_from_soft_values(code: BchCode) -> None:
    """t + 1 errors on the least confident bits: the hard decoder alone fails.

    Measured on these 100 words: all 100 decode to the sent data (before the
    decoder re-encoded its corrections, one was miscorrected).
    """
    rng = np.random.default_rng(9)
    recovered = 0
    trials = 100
    for _ in range(trials):
        data, word, where = _received(code, rng, 9)
        confidence = rng.uniform(0.6, 1.0, code.coded_bits)
        confidence[where] = rng.uniform(0.0, 0.3, where.size)
        soft = _soft(word) * confidence
        decoded = code.decode(soft)
        if decoded.ok and np.array_equal(decoded.bits, data):
            assert decoded.corrected == 9
            recovered += 1
    assert recovered >= 0.9 * trials


def test_chase_never_spends_more_than_t_plus_one_flips(code: BchCode) -> None:
    """10 errors on the least confident bits: reachable only with 10 flips.

    Chase could flip two weak bits and let the hard decoder fix the other 8,
    but 10 flips in all is over the ``t + 1`` budget that keeps noise from
    decoding, so the sent data must not come back.
    """
    rng = np.random.default_rng(10)
    for _ in range(100):
        data, word, where = _received(code, rng, 10)
        confidence = rng.uniform(0.6, 1.0, code.coded_bits)
        confidence[where] = rng.uniform(0.0, 0.3, where.size)
        decoded = code.decode(_soft(word) * confidence)
        assert not (decoded.ok and np.array_equal(decoded.bits, data))


def test_failure_returns_the_hard_decisions(code: BchCode) -> None:
    rng = np.random.default_rng(11)
    soft = rng.normal(0, 1, code.coded_bits)
    # Many seeds decode to "not ok"; find one (the rate is checked below).
    while code.decode(soft).ok:
        soft = rng.normal(0, 1, code.coded_bits)
    decoded = code.decode(soft)
    assert decoded.corrected == 0
    assert np.array_equal(decoded.bits, (soft[:64] > 0).astype(np.uint8))


def test_noise_is_never_decoded_to_the_transmitted_word(code: BchCode) -> None:
    rng = np.random.default_rng(12)
    sent = rng.integers(0, 2, 64).astype(np.uint8)
    for _ in range(1500):
        decoded = code.decode(rng.normal(0, 1, code.coded_bits))
        assert not (decoded.ok and np.array_equal(decoded.bits, sent))


def test_noise_is_rarely_accepted(code: BchCode) -> None:
    """Pure noise decodes as 'ok' about 1 time in 10^4 (Chase, budget t + 1).

    Theory: 2^64 codewords x V(120, 9) / 2^120 is about 1e-4. Measured with a
    re-encoding check: 1 in 3000; without it: 280 in 3000.
    """
    rng = np.random.default_rng(13)
    accepted = sum(
        code.decode(rng.normal(0, 1, code.coded_bits)).ok for _ in range(2000)
    )
    assert accepted <= 10


def test_an_accepted_word_is_a_codeword_near_the_received_one(code: BchCode) -> None:
    """Whatever decodes 'ok' re-encodes to within ``corrected`` bits of the input.

    This is what makes ``ok`` trustworthy: a decoder may pick the wrong
    codeword when there are too many errors, but never one it did not reach by
    the flips it reports.
    """
    rng = np.random.default_rng(14)
    for errors in (9, 10, 12, 20, 60):
        for _ in range(150):
            _, word, _ = _received(code, rng, errors)
            decoded = code.decode(_soft(word))
            if decoded.ok:
                distance = int(np.count_nonzero(code.encode(decoded.bits) != word))
                assert distance <= decoded.corrected <= code.t + 1


@pytest.mark.parametrize("count", [0, 63, 65, 120])
def test_encode_refuses_wrong_lengths(code: BchCode, count: int) -> None:
    with pytest.raises(ValueError, match="expected 64 data bits"):
        code.encode(np.zeros(count, np.uint8))


@pytest.mark.parametrize("count", [0, 64, 119, 121])
def test_decode_refuses_wrong_lengths(code: BchCode, count: int) -> None:
    with pytest.raises(ValueError, match="expected 120 coded values"):
        code.decode(np.zeros(count))


def test_impossible_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        BchCode(data_bits=60, t=8, m=7)
    # 72 data bits + 56 parity bits do not fit in a 127-bit BCH word.
    with pytest.raises(ValueError, match="cannot carry 72 data bits"):
        BchCode(data_bits=72, t=8, m=7)


# -- ordered-statistics decoding ------------------------------------------------


@pytest.fixture(scope="module")
def soft_code() -> BchCode:
    """The image payload code as the detectors use it: BCH, Chase, then OSD-2."""
    return payload_code()


def _weak_errors(
    code: BchCode, rng: np.random.Generator, errors: int
) -> tuple[Bits, npt.NDArray[np.float64]]:
    """Soft values whose ``errors`` wrong bits are among the least confident."""
    data, word, where = _received(code, rng, errors)
    confidence = rng.uniform(0.5, 1.5, code.coded_bits)
    confidence[where] = rng.uniform(0.0, 0.35, where.size)
    return data, _soft(word) * confidence


@pytest.mark.parametrize("errors", [10, 12, 14])
def test_osd_recovers_words_beyond_chase(soft_code: BchCode, errors: int) -> None:
    """10 to 14 errors on unsure bits: past Chase's t + 1, within OSD's reach."""
    rng = np.random.default_rng(200 + errors)
    recovered = 0
    for _ in range(40):
        data, soft = _weak_errors(soft_code, rng, errors)
        decoded = soft_code.decode(soft)
        if decoded.ok:
            # Never a wrong word: the acceptance test is what stands guard.
            assert np.array_equal(decoded.bits, data)
            assert decoded.method == "osd"
            assert decoded.corrected == errors
            recovered += 1
    assert recovered >= 36


def test_osd_rejects_words_with_confident_errors(soft_code: BchCode) -> None:
    """14 errors on bits as sure as the rest: no soft evidence, no decode."""
    rng = np.random.default_rng(31)
    for _ in range(40):
        data, word, _ = _received(soft_code, rng, 14)
        decoded = soft_code.decode(_soft(word) * rng.uniform(0.9, 1.1, 120))
        assert not (decoded.ok and np.array_equal(decoded.bits, data))
        assert not decoded.ok


def test_osd_accepts_noise_no_more_often_than_its_bound(soft_code: BchCode) -> None:
    """The bound is 2**-12 (2.4e-4) per word for OSD; Chase adds about 1e-4.

    Measured on 20,000 Gaussian words: 1 accepted by OSD and 1 by Chase.
    """
    rng = np.random.default_rng(32)
    methods = [soft_code.decode(rng.normal(0, 1, 120)).method for _ in range(2000)]
    assert methods.count("osd") <= 3
    assert sum(1 for m in methods if m) <= 5


def test_chance_of_fit_matches_the_binomial_tail_for_equal_weights() -> None:
    """Equal reliabilities: the tail is sum C(n, i) / 2**n over i <= d, exactly."""
    for d in (0, 3, 8, 12):
        exact = sum(math.comb(120, i) for i in range(d + 1)) / 2.0**120
        bound = log2_chance_of_fit(np.ones(120), float(d), 64)
        assert bound >= min(0.0, 64 + math.log2(exact)) - 1e-9
        assert bound <= min(0.0, 64 + math.log2(exact)) + 0.5


def test_chance_of_fit_is_an_upper_bound_for_mixed_weights() -> None:
    """Against an exhaustive tail over 16 positions with arbitrary weights."""
    rng = np.random.default_rng(33)
    for _ in range(20):
        weights = rng.uniform(0.0, 2.0, 16)
        outcomes = np.array(list(itertools.product((0, 1), repeat=16)))
        sums = outcomes @ weights
        for d in np.quantile(sums, [0.001, 0.01, 0.2]):
            exact = float(np.mean(sums <= d))
            bound = log2_chance_of_fit(weights, float(d), 0)
            assert bound >= math.log2(exact) - 1e-9
            assert bound <= math.log2(exact) + 1.0


def test_osd_needs_a_full_rank_generator() -> None:
    with pytest.raises(ValueError, match="full rank"):
        OrderedStatisticsDecoder(np.zeros((4, 8), np.uint8)).decode(np.ones(8))
    with pytest.raises(ValueError, match="k x n"):
        OrderedStatisticsDecoder(np.ones((9, 8), np.uint8))
    with pytest.raises(ValueError, match="order"):
        OrderedStatisticsDecoder(np.eye(4, dtype=np.uint8), order=3)
