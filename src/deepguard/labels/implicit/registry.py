"""The one place carriers are registered, and the file-level label API.

``read_label``, ``write_label`` and ``content_digest`` pick the carrier from
the probed content (never the extension), apply the limits, and turn every
failure into a one-line :class:`~deepguard.errors.DeepguardError`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from deepguard._atomic import atomic_output, output_path
from deepguard.config import Limits
from deepguard.errors import InvalidLabel, UnsupportedFormat
from deepguard.labels.fields import AigcFields, LabelReading, assess
from deepguard.labels.implicit.carrier import Carrier
from deepguard.media.probe import ProbeResult, probe

__all__ = ["carrier_for", "carriers", "content_digest", "read_label", "write_label"]


@cache
def carriers() -> tuple[Carrier, ...]:
    """Every built-in carrier, most specific first."""
    from deepguard.labels.implicit import formats

    return tuple(cls() for cls in formats.CARRIER_CLASSES)


def carrier_for(probed: ProbeResult, path: Path) -> Carrier:
    """The carrier for a probed file.

    Raises:
        UnsupportedFormat: no carrier handles this format.
    """
    for carrier in carriers():
        if carrier.handles(probed):
            return carrier
    raise UnsupportedFormat(
        f"no implicit-label carrier for {probed.mime} ({probed.container})", path=path
    )


def read_label(
    path: Path, *, limits: Limits | None = None, probed: ProbeResult | None = None
) -> LabelReading:
    """Read and check the implicit label of one file.

    ``probed`` skips probing again when the caller (a scan) already has it.

    Raises:
        DeepguardError: the file cannot be read or its format has no carrier.
            A damaged structure that still lets the reader go on is not raised
            but recorded in the reading's ``errors``.
    """
    limits = limits or Limits()
    probed = probed or probe(path, max_file_bytes=limits.max_file_bytes)
    carrier = carrier_for(probed, path)
    found = carrier.read(path, limits)
    return assess(found.copies, errors=found.errors, carrier=carrier.name)


def content_digest(
    path: Path, *, limits: Limits | None = None, probed: ProbeResult | None = None
) -> str:
    """Hex digest of the content of ``path`` apart from its metadata."""
    limits = limits or Limits()
    probed = probed or probe(path, max_file_bytes=limits.max_file_bytes)
    return carrier_for(probed, path).content_digest(path, limits)


def write_label(
    src: Path,
    fields: AigcFields,
    *,
    out: Path | None = None,
    in_place: bool = False,
    limits: Limits | None = None,
) -> Path:
    """Write ``fields`` as the one implicit label of ``src``; return the output.

    The output is ``out`` or, with ``in_place``, ``src`` itself; it is written
    atomically, so a failure leaves any existing file at that path untouched.

    Raises:
        ValueError: neither or both of ``out`` and ``in_place`` were given.
        InvalidLabel: the fields are not a compliant label.
        DeepguardError: the input cannot be read or labelled.
    """
    dst = output_path(src, out, in_place)
    problems = fields.problems()
    if problems:
        raise InvalidLabel(
            f"refusing to write a noncompliant label: {problems[0]}", path=src
        )
    limits = limits or Limits()
    probed = probe(src, max_file_bytes=limits.max_file_bytes)
    carrier = carrier_for(probed, src)
    if not carrier.writable:
        raise UnsupportedFormat(f"{carrier.name} files cannot be labelled", path=src)
    with atomic_output(dst) as tmp:
        carrier.write(src, tmp, fields.to_json(), limits)
    return dst
