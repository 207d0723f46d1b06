"""The one statistic every third-party reader here shares."""

from __future__ import annotations

import math

__all__ = ["binomial_tail"]


def binomial_tail(matches: int, n: int) -> float:
    """P(at least ``matches`` of ``n`` fair coin flips match), exactly.

    Why exact sums and not a normal approximation: the decisions sit at
    1e-6 and below, where the approximation is off by orders of magnitude
    for words of 32 to 256 bits.
    """
    if matches <= 0:
        return 1.0
    hits = sum(math.comb(n, k) for k in range(matches, n + 1))
    return hits / 2.0**n
