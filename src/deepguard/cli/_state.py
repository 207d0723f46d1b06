"""Per-invocation state shared by the command groups: settings and services."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from deepguard.config import Settings, load_settings
from deepguard.services import Services, build_services

__all__ = ["AppState", "get_state"]


@dataclass
class AppState:
    """What the root callback parsed; services are built on first use."""

    home: Path | None = None
    config: Path | None = None
    out: Console = field(
        default_factory=lambda: Console(highlight=False, soft_wrap=True)
    )
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )
    _settings: Settings | None = None
    _services: Services | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(home=self.home, config=self.config)
        return self._settings

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.settings)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()


def get_state(ctx: typer.Context) -> AppState:
    state = ctx.find_root().obj
    if not isinstance(state, AppState):
        state = AppState()
        ctx.find_root().obj = state
    return state
