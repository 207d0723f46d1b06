"""Composition root: wires settings, store and services once.

The CLI and the HTTP API both call :func:`build_services`, so they can never
disagree about which database or which detectors are in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from deepguard.config import Settings
from deepguard.scan.service import ScanService
from deepguard.store.interface import IStore

__all__ = ["Services", "build_services"]


@dataclass
class Services:
    """The wired application. The store opens on first use."""

    settings: Settings
    _store: IStore | None = field(default=None, repr=False)

    @property
    def store(self) -> IStore:
        if self._store is None:
            from deepguard.store.sql.store import SqlStore

            self.settings.home.mkdir(parents=True, exist_ok=True)
            self._store = SqlStore.open(self.settings.resolved_database_url)
        return self._store

    @cached_property
    def scans(self) -> ScanService:
        return ScanService(settings=self.settings, store=lambda: self.store)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def build_services(settings: Settings, *, store: IStore | None = None) -> Services:
    """Wire the application for ``settings``; pass ``store`` to override it."""
    return Services(settings=settings, _store=store)
