"""Small text formatters shared by the CLI and the reports.

Why a module of its own: the HTML report must not import the CLI (nor the CLI
the report), yet both print file sizes the same way.
"""

from __future__ import annotations

__all__ = ["human_size"]


def human_size(size: int, *, byte_unit: str = "B") -> str:
    """``size`` in bytes as ``"512 B"``, ``"1.5 KiB"``, ``"2.0 MiB"`` or GiB.

    Under 1 KiB the exact count is followed by ``byte_unit``; larger sizes
    have one decimal in the largest unit that keeps them under 1024 (GiB at
    most).
    """
    if size < 1024:
        return f"{size} {byte_unit}"
    value = float(size) / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
