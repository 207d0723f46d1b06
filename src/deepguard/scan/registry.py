"""The one list of detectors, plus third-party plug-ins from entry points.

Built-in detectors are named in ``default_detector_classes()``; plug-ins
register under the ``deepguard.detectors`` entry-point group. A broken plug-in
is reported in ``load_failures`` and skipped: one bad plug-in must not take a
platform's scanning down. Nothing registers itself on import.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from deepguard.config import Settings
from deepguard.errors import ConfigError
from deepguard.scan.detector import Detector

__all__ = ["ENTRY_POINT_GROUP", "DetectorRegistry", "default_detector_classes"]

ENTRY_POINT_GROUP = "deepguard.detectors"
log = logging.getLogger(__name__)


def default_detector_classes() -> tuple[type[Detector], ...]:
    """The built-in detectors, in the order they run."""
    from deepguard.labels.detector import LabelsDetector
    from deepguard.labels.explicit_detector import ExplicitLabelsDetector
    from deepguard.likeness.detector import LikenessDetector
    from deepguard.provenance.detector import ProvenanceDetector
    from deepguard.watermark.detector import WatermarkDetector

    return (
        ProvenanceDetector,
        LabelsDetector,
        ExplicitLabelsDetector,
        WatermarkDetector,
        LikenessDetector,
    )


@dataclass
class DetectorRegistry:
    """Detector classes by name, with the plug-ins that failed to load."""

    classes: dict[str, type[Detector]] = field(default_factory=dict)
    load_failures: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_classes(cls, classes: Iterable[type[Detector]]) -> DetectorRegistry:
        """Register ``classes``; duplicate names are a configuration error.

        Raises:
            ConfigError: two detectors share a name.
        """
        registry = cls()
        for detector_cls in classes:
            registry.add(detector_cls)
        return registry

    @classmethod
    def default(cls, *, plugins: bool = True) -> DetectorRegistry:
        """Built-ins, plus entry-point plug-ins when ``plugins`` is true."""
        registry = cls.from_classes(default_detector_classes())
        if plugins:
            registry.load_plugins()
        return registry

    def add(self, detector_cls: type[Detector]) -> None:
        name = getattr(detector_cls, "name", None)
        if not isinstance(name, str) or not name:
            msg = f"detector {detector_cls.__qualname__} has no name"
            raise ConfigError(msg)
        if name in self.classes and self.classes[name] is not detector_cls:
            msg = (
                f"two detectors are named {name!r}: "
                f"{self.classes[name].__module__} and {detector_cls.__module__}"
            )
            raise ConfigError(msg)
        self.classes[name] = detector_cls

    def load_plugins(self) -> None:
        """Import detectors from the entry-point group; record failures."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
                if not (isinstance(loaded, type) and issubclass(loaded, Detector)):
                    msg = f"{ep.value} is not a Detector subclass"
                    raise TypeError(msg)
                self.add(loaded)
            except Exception as exc:  # a plug-in may raise anything on import
                self.load_failures[ep.name] = f"{type(exc).__name__}: {exc}"
                log.warning("detector plug-in %s failed to load: %s", ep.name, exc)

    def build(
        self, settings: Settings, *, names: Sequence[str] | None = None
    ) -> list[Detector]:
        """Instantiate the selected detectors (all when ``names`` is None).

        Raises:
            ConfigError: a requested name is unknown.
        """
        selected = list(self.classes) if names is None else list(names)
        unknown = [n for n in selected if n not in self.classes]
        if unknown:
            msg = (
                f"unknown detector(s): {', '.join(unknown)}; "
                f"known: {', '.join(self.classes)}"
            )
            raise ConfigError(msg)
        return [self.classes[n].from_settings(settings) for n in selected]
