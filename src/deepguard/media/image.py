"""Decode still images with Pillow, safely.

The pixel limit is checked against the header *before* any pixel is decoded, so
a PNG that claims 50,000 x 50,000 pixels costs a few bytes of reading, not
10 GB of memory. EXIF orientation is applied so that detectors see the image
the way a viewer shows it.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, MediaLimitExceeded, UnsupportedFormat

__all__ = ["image_size", "load_image", "open_image"]

# We enforce our own, configurable pixel limit; Pillow's global one would turn
# into a warning or an exception with a message that does not name the file.
Image.MAX_IMAGE_PIXELS = None

_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, IndexError)


@functools.cache
def _register_plugins() -> None:
    """Teach Pillow HEIC/HEIF, once, on first use (not as an import side effect)."""
    pillow_heif.register_heif_opener()


@contextlib.contextmanager
def open_image(path: Path, *, limits: Limits) -> Iterator[Image.Image]:
    """Open ``path`` lazily (headers only) and check the pixel limit.

    Raises:
        UnsupportedFormat: Pillow cannot identify the content.
        CorruptMedia: the header is damaged.
        MediaLimitExceeded: width x height is over ``limits.max_pixels``.
    """
    _register_plugins()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(path)
    except UnidentifiedImageError as exc:
        raise UnsupportedFormat("not an image Pillow can read", path=path) from exc
    except _PILLOW_ERRORS as exc:
        raise CorruptMedia(f"damaged image header: {exc}", path=path) from exc
    try:
        pixels = im.width * im.height
        if pixels > limits.max_pixels:
            msg = (
                f"image is {im.width}x{im.height} ({pixels} pixels), over the "
                f"max_pixels limit of {limits.max_pixels}"
            )
            raise MediaLimitExceeded(
                msg,
                path=path,
                limit="max_pixels",
                value=pixels,
                maximum=limits.max_pixels,
            )
        yield im
    finally:
        im.close()


def image_size(path: Path, *, limits: Limits) -> tuple[int, int, str | None]:
    """Width, height and Pillow format name, from the header alone."""
    with open_image(path, limits=limits) as im:
        return im.width, im.height, im.format


def load_image(
    path: Path, *, limits: Limits, max_side: int | None = None
) -> Image.Image:
    """Decode ``path`` to an RGB image with EXIF orientation applied.

    ``max_side`` lets callers that only need a thumbnail ask the decoder for a
    reduced image (JPEG ``draft`` mode decodes at 1/2, 1/4 or 1/8 scale).

    Raises:
        UnsupportedFormat, CorruptMedia, MediaLimitExceeded: see :func:`open_image`.
    """
    with open_image(path, limits=limits) as im:
        try:
            if max_side is not None and im.format == "JPEG":
                im.draft("RGB", (max_side, max_side))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.load()
                oriented = ImageOps.exif_transpose(im)
            if oriented.mode == "P" and "transparency" in oriented.info:
                # Pillow warns when a palette with transparency goes straight
                # to RGB; through RGBA is the conversion it recommends.
                oriented = oriented.convert("RGBA")
            rgb = oriented.convert("RGB")
        except _PILLOW_ERRORS as exc:
            raise CorruptMedia(f"cannot decode image data: {exc}", path=path) from exc
        if max_side is not None:
            rgb.thumbnail((max_side, max_side))
        return rgb
