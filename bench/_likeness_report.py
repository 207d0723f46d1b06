"""Report helpers shared by the bench/likeness.py sections."""

from __future__ import annotations

import resource
from collections.abc import Sequence

from rich.table import Table


def peak_rss_mib() -> float:
    """The process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


# -- sections --------------------------------------------------------------------------
