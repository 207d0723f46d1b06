"""Every exception deepguard raises.

One root, so that callers (the CLI, the HTTP layer, a batch runner) can catch
everything the library raises and turn it into a one-line message::

    DeepguardError
    ├── FormatError
    │   ├── UnsupportedFormat
    │   └── CorruptMedia
    ├── MediaError             a limit was exceeded or the input cannot be read
    │   └── MediaLimitExceeded
    ├── LabelError
    │   ├── InvalidLabel       fields a compliant label cannot hold
    │   ├── LabelNotFound
    │   ├── ManifestInvalid
    │   └── SignatureInvalid
    ├── WatermarkError
    │   └── CannotCarryMark    too small, too short or silent for a mark
    ├── SignalError
    │   └── InvalidSignal      (also ValueError)
    ├── StorageError
    │   ├── NotFound
    │   └── Conflict
    ├── WorkflowError
    │   └── InvalidTransition
    ├── DependencyError        an external tool or library failed (exit code 3)
    └── ConfigError

Every error carries the offending ``path`` where there is one, and its ``str()``
is a single line that names the file and the problem.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CannotCarryMark",
    "ConfigError",
    "Conflict",
    "CorruptMedia",
    "DeepguardError",
    "DependencyError",
    "FormatError",
    "InvalidLabel",
    "InvalidSignal",
    "InvalidTransition",
    "LabelError",
    "LabelNotFound",
    "ManifestInvalid",
    "MediaError",
    "MediaLimitExceeded",
    "NotFound",
    "SignalError",
    "SignatureInvalid",
    "StorageError",
    "UnsupportedFormat",
    "WatermarkError",
    "WorkflowError",
]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class DeepguardError(Exception):
    """Root of every error deepguard raises.

    ``user_error`` marks errors caused by the caller's input (exit code 2 in the
    CLI when a command cannot proceed at all); the rest are runtime failures.
    """

    user_error: bool = False

    def __init__(self, msg: str, *, path: str | Path | None = None) -> None:
        self.msg = _one_line(msg)
        self.path = str(path) if path is not None else None
        super().__init__(self.msg)

    def __str__(self) -> str:
        if self.path is not None:
            return f"{self.path}: {self.msg}"
        return self.msg


class MediaError(DeepguardError):
    """The input cannot be read as media, or reading it would break a limit."""


class MediaLimitExceeded(MediaError):
    """A configured limit (pixels, duration, size, decode time) was exceeded.

    ``limit`` names the setting, so a user knows which knob to turn.
    """

    def __init__(
        self,
        msg: str,
        *,
        path: str | Path | None = None,
        limit: str,
        value: float | int | None = None,
        maximum: float | int | None = None,
    ) -> None:
        self.limit = limit
        self.value = value
        self.maximum = maximum
        super().__init__(msg, path=path)


class FormatError(MediaError):
    """The bytes are not a format deepguard handles, or are damaged."""


class UnsupportedFormat(FormatError):
    """The content is a format deepguard does not handle (judged by content)."""

    user_error = True


class CorruptMedia(FormatError):
    """The content claims a known format but is truncated or malformed."""


class LabelError(DeepguardError):
    """Reading, writing or verifying an AIGC label failed."""


class InvalidLabel(LabelError):
    """The caller asked for a label that would not comply with GB 45438."""

    user_error = True


class LabelNotFound(LabelError):
    """The file carries no AIGC label."""


class ManifestInvalid(LabelError):
    """A C2PA manifest or AIGC label is present but malformed."""


class SignatureInvalid(LabelError):
    """An integrity signature does not verify."""


class WatermarkError(DeepguardError):
    """Embedding or detecting an invisible watermark failed."""


class CannotCarryMark(WatermarkError):
    """The content is too small, too short or too silent to carry a mark."""

    user_error = True


class SignalError(DeepguardError):
    """A matching signal (hash, embedding) is malformed."""


class InvalidSignal(SignalError, ValueError):
    """A signal string or vector failed validation."""

    user_error = True


class StorageError(DeepguardError):
    """The database failed or refused an operation."""


class NotFound(StorageError):
    """The requested record does not exist."""

    user_error = True


class Conflict(StorageError):
    """The record exists already or was changed concurrently."""


class WorkflowError(DeepguardError):
    """A case workflow rule was broken."""


class InvalidTransition(WorkflowError):
    """The requested state change is not allowed from the current state."""

    user_error = True


class DependencyError(DeepguardError):
    """An external program or native library failed or is missing."""


class ConfigError(DeepguardError):
    """The configuration is invalid."""

    user_error = True
