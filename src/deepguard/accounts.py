"""Platform accounts as deepguard compares them: ``PLATFORM:HANDLE``.

Why one place: the registry records a person's official accounts and
licensees, and a scan names the uploader; both must normalise the same way or
"@Star" on "Douyin" would not be the registered "star" on "douyin". The
store's account rows and :class:`AccountRef` both go through
:func:`normalise_account` and :func:`account_key`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deepguard.errors import InvalidSignal

__all__ = ["AccountRef", "account_key", "normalise_account"]

_MAX_PLATFORM = 64
_MAX_HANDLE = 256
_PLATFORM = re.compile(r"[a-z0-9][a-z0-9._-]*")


def normalise_account(platform: str, handle: str) -> tuple[str, str]:
    """Platform lowercased, handle without a leading ``@``; both trimmed.

    The handle keeps its spelling, for display; :func:`account_key` is what
    two accounts are compared by.

    Raises:
        InvalidSignal: either is empty, too long or contains whitespace, or
            the platform holds other than ``a-z0-9._-``.
    """
    plat = platform.strip().lower()
    name = handle.strip().removeprefix("@").strip()
    shown = f"{platform.strip()}:{handle.strip()}"
    if not _PLATFORM.fullmatch(plat) or len(plat) > _MAX_PLATFORM:
        msg = (
            f"account {shown!r}: the platform must be 1 to {_MAX_PLATFORM} "
            "characters of a-z, 0-9, '.', '_' or '-'"
        )
        raise InvalidSignal(msg)
    if (
        not name
        or len(name) > _MAX_HANDLE
        or any(c.isspace() or not c.isprintable() for c in name)
    ):
        msg = (
            f"account {shown!r}: the handle must be 1 to {_MAX_HANDLE} "
            "printable characters without spaces"
        )
        raise InvalidSignal(msg)
    return plat, name


def account_key(platform: str, handle: str) -> tuple[str, str]:
    """What identifies an account: normalised platform, case-folded handle.

    Raises:
        InvalidSignal: the platform or handle is malformed.
    """
    plat, name = normalise_account(platform, handle)
    return plat, name.casefold()


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One account on one platform, by its :func:`account_key`."""

    platform: str
    handle: str

    def __post_init__(self) -> None:
        platform, handle = account_key(self.platform, self.handle)
        object.__setattr__(self, "platform", platform)
        object.__setattr__(self, "handle", handle)

    @classmethod
    def parse(cls, text: str) -> AccountRef:
        """``"douyin:@star"`` -> ``AccountRef("douyin", "star")``.

        Raises:
            InvalidSignal: no ``:`` separating platform and handle, or either
                part invalid.
        """
        platform, sep, handle = text.partition(":")
        if not sep:
            msg = (
                f"invalid account {text!r}: expected PLATFORM:HANDLE, e.g. douyin:@star"
            )
            raise InvalidSignal(msg)
        return cls(platform, handle)

    def __str__(self) -> str:
        return f"{self.platform}:{self.handle}"
