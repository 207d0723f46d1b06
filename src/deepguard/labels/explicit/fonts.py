"""Find a font that can draw a Chinese notice.

A label drawn with a Latin-only font comes out as boxes ("tofu"), which is
worse than no label: it looks labelled to a person skimming and says nothing.
So every candidate, including what fontconfig offers, is checked for the
glyphs of the text to draw before it is used. fontconfig is only a fallback
because ``fc-match ':lang=zh'`` happily answers DejaVu Sans on a machine
without CJK fonts.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import ImageFont

from deepguard.errors import DependencyError

__all__ = [
    "DEFAULT_GLYPH_PROBE",
    "KNOWN_FONT_PATHS",
    "FontChoice",
    "covers",
    "find_font",
    "load_font",
]

KNOWN_FONT_PATHS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
    Path("/System/Library/Fonts/PingFang.ttc"),
    Path("/Library/Fonts/Arial Unicode.ttf"),
    Path("C:/Windows/Fonts/msyh.ttc"),
)
"""Searched in order when no font is named (Debian/Ubuntu, Fedora, macOS,
Windows). Module-level so that deployments and tests can replace it."""

DEFAULT_GLYPH_PROBE: Final = "人工智能生成合成AI"
"""Glyphs a font must have to draw any of the reference notices."""

_INSTALL_HINT: Final = (
    "install the Debian package fonts-wqy-microhei (make sysdeps) "
    "or pass a font file that has Chinese glyphs"
)
_FC_TIMEOUT_S: Final = 5.0
_PROBE_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class FontChoice:
    """A font file and the face inside it (``.ttc`` collections hold several)."""

    path: Path
    index: int = 0


def find_font(
    path: str | Path | None = None,
    *,
    index: int = 0,
    text: str = DEFAULT_GLYPH_PROBE,
) -> FontChoice:
    """The font to draw ``text`` with: ``path`` if given, else the first good one.

    Raises:
        DependencyError: ``path`` is missing or lacks glyphs for ``text``, or no
            installed font has them.
    """
    if path is not None:
        choice = FontChoice(Path(path), index)
        if not choice.path.is_file():
            msg = f"font file not found; {_INSTALL_HINT}"
            raise DependencyError(msg, path=choice.path)
        if not covers(choice, text):
            msg = f"font has no glyphs for {text!r}; {_INSTALL_HINT}"
            raise DependencyError(msg, path=choice.path)
        return choice
    for candidate in _candidates():
        if candidate.is_file() and covers(FontChoice(candidate), text):
            return FontChoice(candidate)
    msg = f"no installed font can draw {text!r}; {_INSTALL_HINT}"
    raise DependencyError(msg)


def load_font(choice: FontChoice, size: int) -> ImageFont.FreeTypeFont:
    """Open ``choice`` at ``size`` pixels.

    Raises:
        DependencyError: FreeType cannot read the file.
    """
    try:
        return _load(choice.path, choice.index, size)
    except OSError as exc:
        msg = f"cannot load font: {exc}"
        raise DependencyError(msg, path=choice.path) from exc


def covers(choice: FontChoice, text: str) -> bool:
    """Whether the font has a real glyph for every visible character of ``text``.

    Pillow exposes no character map, so a character counts as missing when it
    renders exactly like a code point no font defines (the ``.notdef`` box).
    """
    try:
        font = _load(choice.path, choice.index, _PROBE_SIZE)
    except OSError:
        return False
    notdef = _mask_signature(font, "\U0010fffd")
    return all(
        _mask_signature(font, ch) != notdef for ch in set(text) if not ch.isspace()
    )


def _mask_signature(font: ImageFont.FreeTypeFont, ch: str) -> tuple[object, ...]:
    mask = font.getmask(ch)
    return (mask.size, bytes(mask), font.getbbox(ch))


@functools.lru_cache(maxsize=64)
def _load(path: Path, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=index)


def _candidates() -> list[Path]:
    paths = list(KNOWN_FONT_PATHS)
    found = _fontconfig_match()
    if found is not None and found not in paths:
        paths.append(found)
    return paths


def _fontconfig_match() -> Path | None:
    """fontconfig's best Chinese font, if fontconfig is installed."""
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        result = subprocess.run(
            [exe, "-f", "%{file}", ":lang=zh"],
            capture_output=True,
            text=True,
            timeout=_FC_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = result.stdout.strip()
    return Path(out) if result.returncode == 0 and out else None
