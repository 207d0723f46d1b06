"""The watermark payload: bit layout, the 32-bit short form, derivation, bounds.

Why these matter: the payload is the only thing a stripped file keeps, and a
platform maps it back to a producer's label record by prefix. A bit in the
wrong place, or a short form that does not match its long form, silently
breaks that lookup.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepguard.watermark.payload import CID_BITS, TAG_BITS, Payload, producer_tag

PRODUCER = "001191440300708461136T1XGW3"
OTHER_PRODUCER = "0091110108MA01ABCDE9X120000"

tags = st.integers(min_value=0, max_value=(1 << TAG_BITS) - 1)
cids = st.integers(min_value=0, max_value=(1 << CID_BITS) - 1)


@given(tags, cids)
def test_64_bit_round_trip(tag: int, cid: int) -> None:
    payload = Payload(tag, cid)
    bits = payload.to_bits()
    assert bits.shape == (64,)
    assert bits.dtype == np.uint8
    assert set(np.unique(bits).tolist()) <= {0, 1}
    assert Payload.from_bits(bits) == payload
    assert payload.to_int() == tag << CID_BITS | cid
    assert int(payload.hex(), 16) == payload.to_int()


@given(tags, cids)
def test_32_bit_round_trip_keeps_the_top_bits(tag: int, cid: int) -> None:
    short = Payload(tag, cid).short()
    assert short.width == 32
    # The short form keeps the top 12 tag bits and the top 20 content bits.
    assert short.producer_tag == tag >> 8 << 8
    assert short.content_id == cid >> 24 << 24
    bits = short.to_bits()
    assert bits.shape == (32,)
    assert Payload.from_bits(bits) == short
    assert short.to_int() == (tag >> 8) << 20 | cid >> 24
    assert short.short() == short


def test_bits_are_most_significant_first() -> None:
    top_of_tag = Payload(1 << (TAG_BITS - 1), 0).to_bits()
    assert top_of_tag[0] == 1
    assert top_of_tag.sum() == 1
    low_of_cid = Payload(0, 1).to_bits()
    assert low_of_cid[-1] == 1
    assert low_of_cid.sum() == 1
    # The tag ends at bit 20, the content ID starts right after it.
    assert Payload(1, 0).to_bits()[TAG_BITS - 1] == 1
    assert Payload(0, 1 << (CID_BITS - 1)).to_bits()[TAG_BITS] == 1


def test_from_bits_accepts_lists_and_bools() -> None:
    payload = Payload.for_content(PRODUCER, "x")
    as_list = payload.to_bits().tolist()
    assert Payload.from_bits(as_list) == payload
    assert Payload.from_bits(np.array(as_list, dtype=bool)) == payload
    assert Payload.from_bits(np.array(as_list).reshape(8, 8)) == payload


def test_hex_has_a_fixed_width() -> None:
    assert Payload(0, 0).hex() == "0" * 16
    assert Payload(1, 0).hex() == "0000100000000000"
    assert Payload(0, 1).hex() == "0000000000000001"
    assert Payload((1 << TAG_BITS) - 1, (1 << CID_BITS) - 1).hex() == "f" * 16
    short = Payload(1 << (TAG_BITS - 1), 1 << (CID_BITS - 1)).short()
    assert short.hex() == "80080000"
    assert Payload(0, 0).short().hex() == "0" * 8


def test_matches_compares_only_the_bits_both_carry() -> None:
    full = Payload.for_content(PRODUCER, "clip-1")
    assert full.matches(full)
    assert full.matches(full.short())
    assert full.short().matches(full)
    # Differs only below the short form's bits: the short form cannot tell.
    sibling = Payload(full.producer_tag, full.content_id ^ 1)
    assert not full.matches(sibling)
    assert sibling.matches(full.short())
    assert full.short().matches(sibling)
    # Differs in a bit the short form carries: nobody matches.
    far = Payload(full.producer_tag, full.content_id ^ (1 << (CID_BITS - 1)))
    assert not far.matches(full.short())
    assert not full.short().matches(far.short())
    other_tag = Payload(full.producer_tag ^ (1 << (TAG_BITS - 1)), full.content_id)
    assert not other_tag.matches(full)
    assert not other_tag.short().matches(full)


def test_for_content_is_deterministic_and_producer_scoped() -> None:
    first = Payload.for_content(PRODUCER, "gen-0001")
    assert Payload.for_content(PRODUCER, "gen-0001") == first
    assert first.width == 64
    assert first.producer_tag == producer_tag(PRODUCER)
    # Same producer, other content: same tag, other content ID.
    second = Payload.for_content(PRODUCER, "gen-0002")
    assert second.producer_tag == first.producer_tag
    assert second.content_id != first.content_id
    # Same produce ID under another producer: nothing in common.
    foreign = Payload.for_content(OTHER_PRODUCER, "gen-0001")
    assert foreign.producer_tag == producer_tag(OTHER_PRODUCER)
    assert foreign.producer_tag != first.producer_tag
    assert foreign.content_id != first.content_id
    # The separator keeps "ab"+"c" apart from "a"+"bc".
    assert Payload.for_content("ab", "c") != Payload.for_content("a", "bc")


def test_for_content_spreads_over_the_whole_range() -> None:
    """Derived IDs use every bit: no field is stuck at zero or truncated."""
    payloads = [Payload.for_content(PRODUCER, f"item-{i}") for i in range(400)]
    assert len({p.content_id for p in payloads}) == 400
    bits = np.array([p.to_bits()[TAG_BITS:] for p in payloads])
    # Each content-ID bit is set in about half of the payloads (binomial
    # 400 x 0.5: 5 standard deviations is 150..250).
    assert bits.sum(axis=0).min() >= 150
    assert bits.sum(axis=0).max() <= 250
    tags_seen = {producer_tag(f"producer-{i}") for i in range(400)}
    assert len(tags_seen) >= 398  # 20-bit tags: a collision or two at most
    assert max(tags_seen) < 1 << TAG_BITS


@pytest.mark.parametrize(
    ("tag", "cid"),
    [(-1, 0), (1 << TAG_BITS, 0), (0, -1), (0, 1 << CID_BITS)],
)
def test_fields_out_of_range_are_refused(tag: int, cid: int) -> None:
    with pytest.raises(ValueError, match="must fit in"):
        Payload(tag, cid)


def test_the_largest_fields_fit() -> None:
    payload = Payload((1 << TAG_BITS) - 1, (1 << CID_BITS) - 1)
    assert Payload.from_bits(payload.to_bits()) == payload
    assert payload.to_bits().all()


def test_width_other_than_32_or_64_is_refused() -> None:
    with pytest.raises(ValueError, match="32 or 64"):
        Payload(0, 0, width=48)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, 31, 33, 63, 65, 128])
def test_from_bits_refuses_other_lengths(count: int) -> None:
    with pytest.raises(ValueError, match="32 or 64"):
        Payload.from_bits(np.zeros(count, dtype=np.uint8))


def test_payload_is_immutable_and_hashable() -> None:
    payload = Payload.for_content(PRODUCER, "a")
    with pytest.raises(AttributeError):
        payload.content_id = 0  # type: ignore[misc]
    assert len({payload, Payload.for_content(PRODUCER, "a")}) == 1
