"""Persistence: narrow store interfaces, an SQL store and an in-memory fake.

Depend on the narrowest interface you need (:class:`IScanStore` for scan
history). :class:`SqlStore` is imported lazily, so that importing the
interfaces does not pull in SQLAlchemy for packages that never touch a
database::

    from deepguard.store import SqlStore

    with SqlStore.open("sqlite:///scans.db") as store:
        store.save_scans(results=results)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deepguard.store.interface import (
    MIN_PREFIX,
    NO_LABEL,
    ILabelRecordStore,
    IScanStore,
    IStore,
    LabelRecord,
    ScanSummary,
)
from deepguard.store.memory import MemoryStore

if TYPE_CHECKING:
    from deepguard.store.sql import SqlStore

__all__ = [
    "MIN_PREFIX",
    "NO_LABEL",
    "ILabelRecordStore",
    "IScanStore",
    "IStore",
    "LabelRecord",
    "MemoryStore",
    "ScanSummary",
    "SqlStore",
]


def __getattr__(name: str) -> Any:
    if name == "SqlStore":
        from deepguard.store.sql import SqlStore

        return SqlStore
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
