"""The provenance detector: metadata traces of AI generation in any file.

What it reports (``Finding.kind``): C2PA manifests and their AI/synthetic
source actions; IPTC digital source types and AI-disclosure fields in XMP;
AUTOMATIC1111/ComfyUI/NovelAI/InvokeAI parameters in PNG text (and A1111
parameters in EXIF UserComment); known generator names in software, encoder
and comment fields; raw GB 45438 ``AIGC`` labels in any carrier; and the
parts of a file that could not be read (``provenance.read_error``).

How: one table maps the probed container to its readers; readers walk
headers only (never pixels or samples) and yield traces, one rule table
turns traces into findings, and C2PA is read separately with network access
off. A reader that breaks loses only its own traces; the detector raises
only when nothing in the file could be read at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from deepguard.errors import (
    CorruptMedia,
    DeepguardError,
    MediaError,
    MediaLimitExceeded,
)
from deepguard.media.containers import Source
from deepguard.media.item import MediaItem
from deepguard.provenance._classify import classify
from deepguard.provenance._doc_readers import (
    read_front_matter,
    read_ooxml,
    read_pdf_info,
    scan_xmp,
)
from deepguard.provenance._image_readers import (
    read_gif,
    read_isobmff,
    read_jpeg,
    read_png,
    read_riff,
    read_tiff,
)
from deepguard.provenance._tag_readers import read_av, read_id3, read_vorbis
from deepguard.provenance._trace import (
    C2paHint,
    ReadContext,
    Reader,
    ReadFailure,
    Trace,
    where,
)
from deepguard.provenance.c2pa_reader import C2paReader
from deepguard.scan.detector import Detector
from deepguard.scan.finding import Finding

if TYPE_CHECKING:
    from deepguard.config import Settings

__all__ = ["READERS", "ProvenanceDetector"]

READERS: Final[Mapping[str, tuple[Reader, ...]]] = {
    "jpeg": (read_jpeg,),
    "png": (read_png,),
    "riff": (read_riff,),
    "isobmff": (read_isobmff,),
    "gif": (read_gif,),
    "tiff": (read_tiff,),
    "matroska": (read_av, scan_xmp),
    "flv": (read_av, scan_xmp),
    "mpegts": (read_av, scan_xmp),
    "mpeg": (read_id3, scan_xmp),
    "flac": (read_vorbis, scan_xmp),
    "ogg": (read_vorbis,),
    "pdf": (read_pdf_info, scan_xmp),
    "zip": (read_ooxml,),
    "text": (read_front_matter,),
}
"""Probed container -> readers, in the order their traces are reported."""
_FALLBACK: Final[tuple[Reader, ...]] = (scan_xmp,)
"""Containers with no reader of their own (BMP, JPEG XL ...): XMP byte scan."""
_C2PA_VISIBLE: Final = frozenset({"jpeg", "png", "gif", "riff", "isobmff"})
"""Containers whose walker sees every place a C2PA store can be (JPEG APP11,
PNG caBX, GIF C2PA_GIF, RIFF C2PA, ISO BMFF C2PA uuid box) and every XMP
pointer to one; c2pa-rs is asked about them only when the walk found one."""


class ProvenanceDetector(Detector):
    """Finds metadata that says, or strongly suggests, who generated a file.

    Metadata-only: it reads headers and tags, never pixels or samples, and
    opens files read-only. Supports every media kind.
    """

    name: ClassVar[str] = "provenance"
    version: ClassVar[str] = "1"
    metadata_only: ClassVar[bool] = True

    def __init__(self, trust_settings: Path | None = None) -> None:
        """``trust_settings``: c2pa-rs settings JSON with trust anchors.

        Without it, a correctly signed manifest validates as ``Valid``; with
        trust anchors that cover its signer, as ``Trusted``.

        Raises:
            ConfigError: the trust settings file cannot be read.
        """
        self._c2pa = C2paReader(trust_settings, detector=self.name)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProvenanceDetector:
        """Build the detector from deepguard settings (``c2pa_trust_settings``)."""
        return cls(trust_settings=settings.c2pa_trust_settings)

    def supports(self, item: MediaItem) -> bool:
        """Every kind of media can carry metadata, so every item is supported."""
        return True

    def run(self, item: MediaItem) -> list[Finding]:
        """Read every metadata carrier of ``item`` and return the findings.

        Raises:
            MediaError: the file cannot be opened; or no part of its metadata
                could be read, in which case it is the first reader's error
                (``CorruptMedia`` naming the file and the broken structure, or
                ``MediaLimitExceeded``).
        """
        readers = READERS.get(item.probe.container, _FALLBACK)
        out = _Collected()
        with Source.open(item.path, max_blob=item.limits.max_metadata_bytes) as src:
            ctx = ReadContext(item=item, src=src)
            completed = sum(out.run(reader, ctx) for reader in readers)
        c2pa_findings = self._c2pa_findings(item, out, completed == len(readers))
        findings = classify(out.traces, detector=self.name) + c2pa_findings
        if not completed and not findings and out.failures:
            raise out.failures[0].error
        return findings + [self._failure(f) for f in out.failures]

    def _c2pa_findings(
        self, item: MediaItem, out: _Collected, intact: bool
    ) -> list[Finding]:
        """C2PA findings, asking c2pa-rs only when it can find something.

        ``intact`` says every reader got through the file. When a walker that
        sees all C2PA carriers got through without a hint, there is no
        manifest. When the file is broken and showed no hint, c2pa-rs is
        still asked (a manifest may sit past the break), but its errors are
        about the broken file, already reported, not about a manifest.
        """
        if intact and not out.hints and item.probe.container in _C2PA_VISIBLE:
            return []
        found = self._read_c2pa(item)
        if out.hints:
            return [
                dataclasses.replace(f, where=_store_location(out.hints)) for f in found
            ]
        if intact:
            return found
        return [f for f in found if f.kind != "c2pa.error"]

    def _read_c2pa(self, item: MediaItem) -> list[Finding]:
        try:
            return self._c2pa.read(item.path, item.mime)
        except OSError as exc:
            msg = f"cannot read: {exc.strerror or exc}"
            raise MediaError(msg, path=item.path) from exc

    def _failure(self, failure: ReadFailure) -> Finding:
        error = failure.error
        details: dict[str, object] = {
            "carrier": failure.carrier,
            "error": type(error).__name__,
            "message": error.msg,
        }
        if isinstance(error, MediaLimitExceeded):
            details["limit"] = error.limit
        return Finding(
            detector=self.name,
            kind="provenance.read_error",
            confidence=1.0,
            summary=f"could not read {failure.carrier}: {error.msg}",
            details=details,
            where=where(failure.carrier, failure.offset),
        )


@dataclasses.dataclass(slots=True)
class _Collected:
    """Everything the readers of one file produced."""

    traces: list[Trace] = dataclasses.field(default_factory=list)
    failures: list[ReadFailure] = dataclasses.field(default_factory=list)
    hints: list[C2paHint] = dataclasses.field(default_factory=list)

    def run(self, reader: Reader, ctx: ReadContext) -> bool:
        """Run one reader, keeping what it yielded even if it breaks half-way.

        Returns whether the reader ran to the end.
        """
        try:
            for entry in reader(ctx):
                if isinstance(entry, Trace):
                    self.traces.append(entry)
                elif isinstance(entry, ReadFailure):
                    self.failures.append(entry)
                else:
                    self.hints.append(entry)
        except DeepguardError as exc:
            self.failures.append(ReadFailure(_reader_carrier(reader, ctx), exc))
            return False
        except OSError as exc:
            msg = f"read failed: {exc.strerror or exc}"
            error = CorruptMedia(msg, path=ctx.item.path)
            self.failures.append(ReadFailure(_reader_carrier(reader, ctx), error))
            return False
        return True


def _store_location(hints: list[C2paHint]) -> dict[str, object]:
    """Where the manifest store is (or the XMP pointer to it, if that is all)."""
    embedded = [h for h in hints if "xmp" not in h.carrier.lower()]
    hint = (embedded or hints)[0]
    return where(hint.carrier, hint.offset)


def _reader_carrier(reader: Reader, ctx: ReadContext) -> str:
    """``png`` for a container's own walker, ``mpeg:xmp`` for a byte scan."""
    name = getattr(reader, "__name__", "reader")
    label = name.removeprefix("read_").removeprefix("scan_")
    container = ctx.item.probe.container
    return label if label == container else f"{container}:{label}"
