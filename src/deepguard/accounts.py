"""Platform accounts as deepguard compares them: ``PLATFORM:HANDLE``.

Why one place: the registry records a person's official accounts and
licensees, and a scan names the uploader; both must normalise the same way or
"@Star" on "Douyin" would not be the registered "star" on "douyin".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deepguard.errors import ConfigError

__all__ = ["AccountRef", "normalise_handle", "normalise_platform"]

_PLATFORM = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def normalise_platform(platform: str) -> str:
    """Lowercase, trimmed; letters, digits, ``.``, ``_`` and ``-`` only.

    Raises:
        ConfigError: empty or with other characters.
    """
    value = platform.strip().lower()
    if not _PLATFORM.fullmatch(value):
        msg = (
            f"invalid platform {platform!r}: use letters, digits, '.', '_' or '-' "
            "(e.g. douyin, kuaishou, weibo)"
        )
        raise ConfigError(msg)
    return value


def normalise_handle(handle: str) -> str:
    """Trimmed, without a leading ``@``, case-folded (handles ignore case).

    Raises:
        ConfigError: empty, or with whitespace or control characters inside.
    """
    value = handle.strip().removeprefix("@").strip().casefold()
    if not value or any(c.isspace() or not c.isprintable() for c in value):
        msg = f"invalid account handle {handle!r}: give the handle or numeric ID"
        raise ConfigError(msg)
    if len(value) > 256:
        msg = f"invalid account handle: {len(value)} characters, at most 256"
        raise ConfigError(msg)
    return value


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One account on one platform, normalised."""

    platform: str
    handle: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "platform", normalise_platform(self.platform))
        object.__setattr__(self, "handle", normalise_handle(self.handle))

    @classmethod
    def parse(cls, text: str) -> AccountRef:
        """``"douyin:@star"`` -> ``AccountRef("douyin", "star")``.

        Raises:
            ConfigError: no ``:`` separating platform and handle, or either
                part invalid.
        """
        platform, sep, handle = text.partition(":")
        if not sep:
            msg = (
                f"invalid account {text!r}: expected PLATFORM:HANDLE, e.g. douyin:@star"
            )
            raise ConfigError(msg)
        return cls(platform, handle)

    def __str__(self) -> str:
        return f"{self.platform}:{self.handle}"
