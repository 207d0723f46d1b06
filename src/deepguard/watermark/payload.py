"""What a deepguard watermark carries: a producer tag and a content ID.

Why so little: a mark must survive re-encoding, so every bit is expensive. The
GB 45438 fields themselves (a 27-character producer code, a free-form produce
ID, signatures) cannot fit; the mark carries a compact key instead, and the
producer's label record in the store maps it back to those fields.

Layout of the 64-bit payload (most significant bit first):

* 20 bits ``producer_tag``: BLAKE2b of the producer code, truncated. It names
  the producer even where no label record is known: a platform compares it with
  the producer codes it knows.
* 44 bits ``content_id``: BLAKE2b of the producer code and the ``ProduceID``,
  truncated, so labelling the same content twice gives the same mark.

Channels with less room (audio) carry the 32-bit short form: the top 12 bits of
the tag and the top 20 bits of the content ID. Both forms match a record by
prefix, see :meth:`Payload.matches`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "CID_BITS",
    "SHORT_CID_BITS",
    "SHORT_TAG_BITS",
    "TAG_BITS",
    "Payload",
    "producer_tag",
]

TAG_BITS = 20
CID_BITS = 44
Width = Literal[32, 64]
SHORT_TAG_BITS = 12
SHORT_CID_BITS = 20
_SHORT = {"tag": SHORT_TAG_BITS, "cid": SHORT_CID_BITS}


def _hash_bits(text: str, bits: int) -> int:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - bits)


def producer_tag(producer: str) -> int:
    """The 20-bit tag of a GB 45438 ``ContentProducer`` code."""
    return _hash_bits("deepguard/producer\0" + producer, TAG_BITS)


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded or to-be-embedded payload.

    ``width`` 64 holds every bit of both fields; width 32 holds their top
    bits only, and the missing low bits are zero.
    """

    producer_tag: int
    content_id: int
    width: Width = 64

    def __post_init__(self) -> None:
        if not 0 <= self.producer_tag < 1 << TAG_BITS:
            msg = f"producer_tag must fit in {TAG_BITS} bits"
            raise ValueError(msg)
        if not 0 <= self.content_id < 1 << CID_BITS:
            msg = f"content_id must fit in {CID_BITS} bits"
            raise ValueError(msg)
        if self.width not in (32, 64):
            msg = f"payload width must be 32 or 64, got {self.width}"
            raise ValueError(msg)

    @classmethod
    def for_content(cls, producer: str, produce_id: str) -> Payload:
        """The payload for one labelled item: derived, so it is reproducible."""
        return cls(
            producer_tag=producer_tag(producer),
            content_id=_hash_bits(
                f"deepguard/content\0{producer}\0{produce_id}", CID_BITS
            ),
        )

    def short(self) -> Payload:
        """The 32-bit form of this payload."""
        return Payload(
            producer_tag=self.producer_tag & _mask_top(TAG_BITS, _SHORT["tag"]),
            content_id=self.content_id & _mask_top(CID_BITS, _SHORT["cid"]),
            width=32,
        )

    def to_int(self) -> int:
        if self.width == 64:
            return self.producer_tag << CID_BITS | self.content_id
        tag = self.producer_tag >> (TAG_BITS - _SHORT["tag"])
        cid = self.content_id >> (CID_BITS - _SHORT["cid"])
        return tag << _SHORT["cid"] | cid

    def to_bits(self) -> npt.NDArray[np.uint8]:
        """The payload as 0/1 values, most significant bit first."""
        value = self.to_int()
        shifts = np.arange(self.width - 1, -1, -1, dtype=np.uint64)
        return ((np.uint64(value) >> shifts) & np.uint64(1)).astype(np.uint8)

    @classmethod
    def from_bits(cls, bits: npt.ArrayLike) -> Payload:
        """Inverse of :meth:`to_bits`; the width is the number of bits."""
        array = np.asarray(bits, dtype=np.uint8).reshape(-1)
        if array.size not in (32, 64):
            msg = f"a payload has 32 or 64 bits, got {array.size}"
            raise ValueError(msg)
        value = 0
        for bit in array.tolist():
            value = value << 1 | (bit & 1)
        if array.size == 64:
            return cls(value >> CID_BITS, value & ((1 << CID_BITS) - 1))
        tag = (value >> _SHORT["cid"]) << (TAG_BITS - _SHORT["tag"])
        cid = (value & ((1 << _SHORT["cid"]) - 1)) << (CID_BITS - _SHORT["cid"])
        return cls(tag, cid, width=32)

    def matches(self, other: Payload) -> bool:
        """Whether two payloads agree on every bit both of them carry."""
        width = min(self.width, other.width)
        a = self if self.width == width else self.short()
        b = other if other.width == width else other.short()
        return a.to_int() == b.to_int()

    def hex(self) -> str:
        """A stable text form: 16 hex digits (8 for the short form)."""
        return f"{self.to_int():0{self.width // 4}x}"


def _mask_top(total: int, keep: int) -> int:
    return ((1 << keep) - 1) << (total - keep)
