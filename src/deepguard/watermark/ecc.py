"""Error correction for watermark payloads: BCH codes with soft-decision retries.

Why BCH: watermark channels flip isolated bits (a JPEG block, a noisy frame),
which is exactly what a binary BCH code corrects, and ``bchlib`` is a small,
maintained C implementation. Why soft retries: detectors know how sure they are
of every bit, so when the hard decision fails we flip the least reliable bits
and try again (Chase decoding); that recovers words with a few more errors than
the code's ``t`` without lowering the bar for accepting one. Codes built with
``osd_order`` go further when Chase fails: ordered-statistics decoding (see
``_osd``) finds the codeword nearest the soft values, and it is accepted only
when noise would fit some codeword that well with a chance below
``2**-osd_accept_bits``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import bchlib
import numpy as np
import numpy.typing as npt

from deepguard.watermark._osd import OrderedStatisticsDecoder, log2_chance_of_fit

__all__ = ["BchCode", "Decoded"]

Bits = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Decoded:
    """The outcome of decoding one received word.

    Attributes:
        ok: the word decoded to a codeword; ``bits`` are then the data bits.
        bits: the corrected data bits (0/1), or the raw hard decisions of the
            data positions when decoding failed.
        corrected: how many coded bits were flipped to reach the codeword.
        method: what decoded it: "hard", "chase", "osd", or "" on failure.
    """

    ok: bool
    bits: Bits
    corrected: int
    method: str = ""


class BchCode:
    """A binary BCH code over ``data_bits`` data bits correcting ``t`` errors.

    Coded words are ``data_bits + ecc_bits`` long: the data first, then parity.

    Args:
        osd_order: 0 for BCH and Chase only; 1 or 2 to add ordered-statistics
            decoding of that order when they fail.
        osd_accept_bits: an OSD result is accepted when the chance that noise
            fits some codeword as well is at most ``2**-osd_accept_bits``.
    """

    def __init__(
        self,
        data_bits: int,
        t: int,
        m: int = 7,
        chase_bits: int = 5,
        *,
        osd_order: int = 0,
        osd_accept_bits: float = 12.0,
    ):
        if data_bits % 8:
            msg = f"data_bits must be a multiple of 8, got {data_bits}"
            raise ValueError(msg)
        self._bch = bchlib.BCH(t, m=m)
        self.data_bits = data_bits
        self.t = t
        self.ecc_bits = int(self._bch.ecc_bits)
        self.chase_bits = chase_bits
        if data_bits + self.ecc_bits > int(self._bch.n):
            msg = f"BCH(m={m}, t={t}) cannot carry {data_bits} data bits"
            raise ValueError(msg)
        self.osd_accept_bits = osd_accept_bits
        self._osd = (
            OrderedStatisticsDecoder(self._generator(), osd_order)
            if osd_order
            else None
        )

    @property
    def coded_bits(self) -> int:
        return self.data_bits + self.ecc_bits

    def encode(self, bits: npt.ArrayLike) -> Bits:
        """Data bits (0/1, length ``data_bits``) to a coded word."""
        data = np.asarray(bits, dtype=np.uint8).reshape(-1)
        if data.size != self.data_bits:
            msg = f"expected {self.data_bits} data bits, got {data.size}"
            raise ValueError(msg)
        ecc = self._bch.encode(bytes(np.packbits(data)))
        parity = np.unpackbits(np.frombuffer(ecc, dtype=np.uint8))[: self.ecc_bits]
        return np.concatenate([data, parity]).astype(np.uint8)

    def decode(self, soft: npt.ArrayLike) -> Decoded:
        """Decode soft values: positive means bit 1, magnitude means confidence.

        Hard decision first; if that fails, up to ``2**chase_bits`` retries
        with the least confident bits flipped. A retry is accepted only when
        the total number of flips stays within ``t + 1``, which keeps the
        chance of "decoding" noise to a valid word small. Then, for codes with
        ``osd_order``, the ordered-statistics search and its acceptance test.
        """
        values = np.asarray(soft, dtype=np.float64).reshape(-1)
        if values.size != self.coded_bits:
            msg = f"expected {self.coded_bits} coded values, got {values.size}"
            raise ValueError(msg)
        hard = (values > 0).astype(np.uint8)
        first = self._hard_decode(hard)
        if first is not None:
            return Decoded(True, first[0], first[1], "hard")
        weakest = np.argsort(np.abs(values))[: self.chase_bits]
        budget = self.t + 1
        best: tuple[Bits, int] | None = None
        for flips in range(1, self.chase_bits + 1):
            for subset in itertools.combinations(weakest, flips):
                trial = hard.copy()
                trial[list(subset)] ^= 1
                result = self._hard_decode(trial)
                if result is None:
                    continue
                total = result[1] + flips
                if total <= budget and (best is None or total < best[1]):
                    best = (result[0], total)
            if best is not None:
                return Decoded(True, best[0], best[1], "chase")
        if self._osd is not None:
            codeword, discrepancy = self._osd.decode(values)
            chance = log2_chance_of_fit(values, discrepancy, self.data_bits)
            if chance <= -self.osd_accept_bits:
                flips = int(np.count_nonzero(codeword != hard))
                return Decoded(True, codeword[: self.data_bits], flips, "osd")
        return Decoded(False, hard[: self.data_bits], 0)

    def _generator(self) -> Bits:
        """The code's systematic generator matrix: the codewords of unit data."""
        return np.stack(
            [self.encode(row) for row in np.eye(self.data_bits, dtype=np.uint8)]
        )

    def _hard_decode(self, word: Bits) -> tuple[Bits, int] | None:
        data = bytearray(np.packbits(word[: self.data_bits]).tobytes())
        parity_bits = np.zeros(self._bch.ecc_bytes * 8, dtype=np.uint8)
        parity_bits[: self.ecc_bits] = word[self.data_bits :]
        ecc = bytearray(np.packbits(parity_bits).tobytes())
        nerr = self._bch.decode(data, ecc)
        if nerr < 0:
            return None
        if nerr:
            self._bch.correct(data, ecc)
        bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))
        decoded = bits[: self.data_bits].astype(np.uint8)
        # Trust the result only if it is a codeword exactly ``nerr`` flips from
        # what was received. bchlib can report corrections that do not reach a
        # codeword (and, for a shortened code, corrections in bits we never
        # sent); re-encoding catches every such case in one general check.
        if int(np.count_nonzero(self.encode(decoded) != word)) != nerr:
            return None
        return decoded, int(nerr)
