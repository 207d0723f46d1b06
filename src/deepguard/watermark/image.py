"""deepguard's robust invisible image watermark.

Embedding adds a keyed, tiled pattern (see ``_tile``) to the luma, shaped by a
perceptual mask: more where texture hides it, less in flat and mid-grey areas,
none where pixels clip. Its strength is set per image so that the PSNR is
``psnr_db`` (42.5 dB by default: the 42 dB floor, less the rounding and
clipping that can cost a few tenths), whatever the content.

Detection folds the image residual onto one tile period and correlates it with
the sync chips, first as the image is, then after undoing the geometry that
the residual's autocorrelation reveals (rescaling, aspect change, rotation),
and last at the best geometries of a template search over rescales, small
rotations and stretches (``_template_search``), each time in both mirror
orientations. Its score is a z-statistic measured against the correlation
surface itself, and its p-value pays for every shift, orientation and
geometry tried (the search's whole grid included), so the threshold means
what it says: at the default ``fpr`` of 1e-6 at most one unmarked image in a
million is called marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from deepguard.errors import CannotCarryMark
from deepguard.watermark._fold import fold, warp_to_reference
from deepguard.watermark._informed import water_fill
from deepguard.watermark._lattice import Lattice, find_lattices
from deepguard.watermark._template_search import TemplateSearch, search_grid
from deepguard.watermark._tile import (
    TILE,
    TileLayout,
    chip_sums,
    layout_for,
    payload_code,
)
from deepguard.watermark.base import (
    DEFAULT_FPR,
    Detection,
    Status,
    WatermarkKey,
    p_value_of_max,
    z_for_p_value,
)
from deepguard.watermark.ecc import Decoded
from deepguard.watermark.payload import Payload

__all__ = ["METHOD", "MIN_DETECT_SIDE", "MIN_EMBED_SIDE", "ImageWatermarker"]

METHOD = "deepguard-image"
MIN_EMBED_SIDE = TILE
"""An image must hold one whole tile to carry the payload."""
MIN_DETECT_SIDE = TILE // 2
"""Below this, too few chips survive for any decision."""

Float = npt.NDArray[np.float32]
_ORIENTATIONS = 2  # as is, mirrored
_LATTICES = 3
_MAX_DETECT_PIXELS = 1920 * 1088
_MAX_INFORMED_PIXELS = 1280 * 720
_MAX_SEARCH_PIXELS = 1440 * 1080
"""Above this (a 1080p frame) the template search is skipped: it would
double the time an unmarked frame takes, and frames that large hold enough
tiles for the autocorrelation to find their geometry."""
_SEARCH_SHARE = 0.25
"""The part of the false-positive budget spent on the template search."""
_SEARCH_READS = 3


def luma(rgb: npt.NDArray[Any]) -> Float:
    """BT.601 luma as float32; grey images pass through."""
    if rgb.ndim == 2:
        return rgb.astype(np.float32)
    if rgb.dtype == np.uint8 and rgb.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(
            np.float32
        )
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    return np.asarray(0.299 * r + 0.587 * g + 0.114 * b, dtype=np.float32)


def detection_luma(y: Float) -> Float:
    """Luma at the size detection reads: big frames are brought to about 1080p.

    Marks in larger images are embedded at this size and enlarged (see
    ``ImageWatermarker.luma_delta``), so detection finds them at scale 1.
    """
    h, w = y.shape
    size = detection_size(h, w)
    if size == (h, w):
        return y
    return np.asarray(
        cv2.resize(y, size[::-1], interpolation=cv2.INTER_AREA), np.float32
    )


def detection_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) at which detection reads an image of this size."""
    if height * width <= _MAX_DETECT_PIXELS:
        return height, width
    factor = math.sqrt(_MAX_DETECT_PIXELS / (height * width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def perceptual_mask(y: Float) -> Float:
    """Where a luma change is hard to see, relative units (mean about 1).

    Texture masking: the local energy of the high-pass luma. Luminance
    masking: the eye notices a given change least in dark areas and bright
    ones, most in mid-grey (a JND curve in the style of Chou and Li). Pixels
    at 0 or 255 get half: the clip keeps only the inward half of the change
    (darker on white, lighter on black), which is what a product shot on a
    white background or a scanned page has room for.
    """
    # The mask is smooth, so it is computed at half resolution (4x less work)
    # and interpolated back.
    h, w = y.shape
    small = cv2.resize(y, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    high = small - cv2.GaussianBlur(small, (0, 0), 0.75)
    texture = np.sqrt(cv2.GaussianBlur(high * high, (0, 0), 1.5))
    background = cv2.GaussianBlur(small, (0, 0), 1.5)
    jnd = np.where(
        background <= 127,
        17.0 * (1.0 - np.sqrt(np.maximum(background, 0) / 127.0)) + 3.0,
        3.0 / 128.0 * (background - 127.0) + 3.0,
    ).astype(np.float32)
    # Texture measured at half resolution reads about half as strong. Its
    # gain is capped at 4x: the detector divides the residual by its local
    # energy, so beyond that each unit of mark in busy texture counts for
    # less than it would in calmer areas. (A cap of 7x instead: 4 points
    # fewer payloads after JPEG q50, 7 fewer after resize 0.5; SSIM 0.983
    # rather than 0.981.)
    coarse = (jnd / 3.0) * (1.0 + np.minimum(texture * 2.0, 12.0) / 4.0)
    mask = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    headroom = np.clip(0.5 + np.minimum(y, 255.0 - y) * 0.0625, 0.0, 1.0)
    return np.asarray(mask * headroom, dtype=np.float32)


def residual(y: Float) -> Float:
    """High-pass luma normalised by local energy: the detector's input.

    The high-pass subtracts a median, not a blur: a median follows edges, so
    they leak far less into the residual, where they would be noise to the
    correlator (measured: +30% z and half the bit errors on 512x384 photos).
    Dividing by the local energy whitens the content and weights every region
    as a matched filter would, and clipping stops any one region from
    dominating. Enlarged images are shrunk back before this (see
    ``_enlarged_source``), so the filters never need widening.
    """
    base = np.clip(y, 0, 255).astype(np.uint8)
    high = y - cv2.medianBlur(base, 5).astype(np.float32)
    high -= cv2.blur(high, (15, 15))
    energy = cv2.GaussianBlur(high * high, (0, 0), 3.0)
    return np.asarray(np.clip(high / np.sqrt(energy + 1.0), -1.5, 1.5), np.float32)


@dataclass(frozen=True, slots=True)
class _Hit:
    z: float
    shift: tuple[int, int]
    mirrored: bool
    folded: Float
    geometry: dict[str, float]
    p_value: float = 1.0


def _correlate(folded: Float, layout: TileLayout, geometry: dict[str, float]) -> _Hit:
    """Best circular shift of the sync pattern in both mirror orientations."""
    template = np.fft.rfft2(layout.sync_tile)
    best: _Hit | None = None
    for mirrored in (False, True):
        tile = np.ascontiguousarray(folded[:, ::-1]) if mirrored else folded
        surface = np.fft.irfft2(np.fft.rfft2(tile) * np.conj(template), s=tile.shape)
        index = int(np.argmax(surface))
        dy, dx = divmod(index, TILE)
        spread = float(surface.std()) or 1e-12
        z = (float(surface.flat[index]) - float(surface.mean())) / spread
        if best is None or z > best.z:
            best = _Hit(z, (dy, dx), mirrored, tile, geometry)
    assert best is not None
    return best


def _enlarged_source(
    r: Float, y: Float | None, lattice: Lattice
) -> tuple[Float, Lattice]:
    """The residual to warp for ``lattice``, and the lattice in its pixels.

    An enlarged image's chips are wider than the residual's filters, so it
    is brought back towards its original size first (area averaging) and its
    residual computed there: as faithful as widening the filters, and a
    fraction of the cost (a 2.3x lattice on a 1080p frame: 8 ms, not 100).
    """
    geometry = lattice.describe()
    scale = min(geometry["scale_x"], geometry["scale_y"])
    if y is None or scale < 1.4:
        return r, lattice
    h, w = y.shape
    size = (max(8, round(w / scale)), max(8, round(h / scale)))
    small = np.asarray(cv2.resize(y, size, interpolation=cv2.INTER_AREA), np.float32)
    fx, fy = size[0] / w, size[1] / h
    v1 = (lattice.v1[0] * fx, lattice.v1[1] * fy)
    v2 = (lattice.v2[0] * fx, lattice.v2[1] * fy)
    return residual(small), Lattice(v1, v2, lattice.strength)


def _rounded(y: Float) -> Float:
    """Luma as the 8-bit image will hold it: rounded and clipped.

    Embedding measures its own mark with the detector's front end, which
    reads 8-bit pixels. Fractional values would mislead it: on a white page
    a change of -0.4 survives as a float but rounds away in the file.
    """
    return np.asarray(np.clip(np.rint(y), 0.0, 255.0), np.float32)


def _p(hit: _Hit) -> tuple[float, float]:
    """Order of preference between hits: the smaller p-value, then larger z."""
    return hit.p_value, -hit.z


def _searched(shape: tuple[int, int]) -> bool:
    """Whether a residual of this shape gets the template search."""
    return shape[0] * shape[1] <= _MAX_SEARCH_PIXELS


def _is_grey_or_rgb(image: npt.NDArray[Any], channels: tuple[int, ...]) -> bool:
    """8-bit, and either 2-D grey or H x W x C with an accepted C."""
    if image.dtype != np.uint8:
        return False
    return image.ndim == 2 or (image.ndim == 3 and image.shape[2] in channels)


class ImageWatermarker:
    """Embeds and detects deepguard's image mark for one key.

    Args:
        key: the shared secret; the default key is public (see WatermarkKey).
        fpr: the false-positive probability per image the detector accepts.
        psnr_db: the embedding strength, as the PSNR the marked image keeps.
    """

    def __init__(
        self,
        key: WatermarkKey | None = None,
        *,
        fpr: float = DEFAULT_FPR,
        psnr_db: float = 42.5,
    ) -> None:
        if not 0 < fpr < 1:
            msg = f"fpr must be between 0 and 1, got {fpr}"
            raise ValueError(msg)
        self.key = key or WatermarkKey()
        self.fpr = fpr
        self.psnr_db = psnr_db
        self._layout = layout_for(self.key)
        self._search = TemplateSearch(self._layout)
        self._patterns: dict[tuple[Payload, int, int], Float] = {}

    # -- embedding -----------------------------------------------------------

    def pattern(
        self,
        payload: Payload,
        height: int,
        width: int,
        weights: npt.NDArray[np.float64] | None = None,
    ) -> Float:
        """The unit-RMS tiled pattern for ``payload`` at a given size.

        ``weights`` scales each chip of the tile (informed embedding).
        """
        key = (payload, height, width)
        cached = self._patterns.get(key) if weights is None else None
        if cached is None:
            coded = payload_code().encode(payload.to_bits())
            tile = self._layout.tile(coded, weights)
            reps = (-(-height // TILE), -(-width // TILE))
            cached = np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
            if weights is None:
                # Video frames ask for the same pattern thousands of times.
                self._patterns = {key: cached}
        return cached

    def luma_delta(
        self,
        y: Float,
        payload: Payload,
        *,
        mask: Float | None = None,
        weights: npt.NDArray[np.float64] | None = None,
    ) -> Float:
        """The luma change that carries ``payload``, scaled to ``psnr_db``.

        Above about 1080p the pattern is drawn at the size detection reads
        and enlarged: a 5K photo's mark would otherwise be shrunk below the
        smallest scale the detector searches, and its chips grow with the
        picture, which suits the rescaling such pictures get.
        """
        h, w = y.shape
        if mask is None:
            mask = perceptual_mask(y)
        ph, pw = detection_size(h, w)
        pattern = self.pattern(payload, ph, pw, weights)
        if (ph, pw) != (h, w):
            pattern = np.asarray(
                cv2.resize(pattern, (w, h), interpolation=cv2.INTER_LINEAR), np.float32
            )
        # The mask is at least 0.5 everywhere (black and white keep half),
        # so the power is never zero.
        delta = mask * pattern
        power = float(np.mean(delta * delta))
        target = 255.0**2 / 10 ** (self.psnr_db / 10)
        delta *= math.sqrt(target / power)
        # Where the picture is black or white only the inward half of the
        # mark survives the clip. That half is what costs PSNR, so the
        # strength is raised until what is kept meets the budget. (Video
        # frames in TV range never reach the clip: the check is skipped.)
        reach = float(np.abs(delta).max())
        low, high = float(y.min()), float(y.max())
        clips = low - reach < 0.0 or high + reach > 255.0
        for _ in range(3 if clips else 0):
            kept = np.clip(y + delta, 0.0, 255.0) - y
            power = float(np.mean(kept * kept))
            if power >= 0.98 * target or power <= 1e-12:
                break
            delta *= math.sqrt(target / power)
        return np.asarray(delta, dtype=np.float32)

    def informed_delta(self, y: Float, payload: Payload) -> Float:
        """``luma_delta`` with its energy moved to the bits the host opposes.

        See ``_informed``: the detector's front end runs on the unmarked luma
        and on a first, uniform mark, and each coded bit's chips are then
        reweighted so that every bit reads with a similar margin. Images the
        detector reads larger than 720p keep the uniform mark: their many
        tiles already average the host interference out, and the two extra
        residuals would double the embedding time.
        """
        mask = perceptual_mask(y)
        uniform = self.luma_delta(y, payload, mask=mask)
        h, w = y.shape
        if h * w > _MAX_INFORMED_PIXELS:
            return uniform
        coded = payload_code().encode(payload.to_bits())
        signs = self._layout.chip_grid(coded).astype(np.float64)
        host = chip_sums(fold(residual(y)))
        energy = chip_sums(fold(uniform * uniform))
        marked = chip_sums(fold(residual(_rounded(y + uniform))))
        weights = water_fill(self._layout, signs, host, marked, energy)
        informed = self.luma_delta(y, payload, mask=mask, weights=weights)
        # The gains were measured for the uniform mark; reweighting shifts
        # them a little. Keep whichever reads back with fewer wrong bits.
        after = chip_sums(fold(residual(_rounded(y + informed))))
        wrong = self._layout.wrong_bits
        return informed if wrong(after, coded) <= wrong(marked, coded) else uniform

    def embed(
        self, rgb: npt.NDArray[np.uint8], payload: Payload, *, verify: bool = True
    ) -> npt.NDArray[np.uint8]:
        """A marked copy of an RGB (or grey) uint8 image.

        With ``verify`` (the default) the copy is read back, and an image
        whose mark its own detector cannot decode is refused: a provider must
        never believe an output carries a mark that nobody can find.

        Raises:
            CannotCarryMark: the image is smaller than one tile, or its mark
                does not read back (too flat, too small, or texture finer
                than the mark).
        """
        image = np.asarray(rgb)
        if not _is_grey_or_rgb(image, channels=(3,)):
            msg = "expected an 8-bit grey or RGB image"
            raise CannotCarryMark(msg)
        h, w = image.shape[:2]
        if min(h, w) < MIN_EMBED_SIDE:
            side = MIN_EMBED_SIDE
            msg = f"image is {w}x{h}; a mark needs at least {side}x{side}"
            raise CannotCarryMark(msg)
        delta = np.rint(self.informed_delta(luma(image), payload)).astype(np.int16)
        if image.ndim == 3:
            delta = np.asarray(cv2.merge([delta, delta, delta]), np.int16)
        # Saturating integer addition: the same as rounding the float sum.
        out = cv2.add(image.astype(np.int16), delta, dtype=cv2.CV_16S)
        marked = np.clip(out, 0, 255).astype(np.uint8)
        if verify:
            self._verify(marked, payload)
        return marked

    def _verify(self, marked: npt.NDArray[np.uint8], payload: Payload) -> None:
        found = self.detect(marked)
        if found.present and found.payload == payload:
            return
        needed = self.threshold(detection_size(marked.shape[0], marked.shape[1]))
        what = "its payload does not decode" if found.present else "it is not found"
        msg = (
            f"the mark does not read back from this image ({what}: z "
            f"{found.score:.1f}, detection needs {needed:.1f}); the picture is "
            "too small, too flat or too finely textured to carry it"
        )
        raise CannotCarryMark(msg)

    # -- detection -----------------------------------------------------------

    def trials(self, shape: tuple[int, int] | None = None) -> tuple[int, int]:
        """Hypotheses one detection tests: shifts x orientations x geometries.

        Two counts: the direct reads (as is, and the autocorrelation's
        lattices) and the template search's grid, 0 where the residual of
        ``shape`` is not searched.
        """
        direct = TILE * TILE * _ORIENTATIONS * (1 + _LATTICES)
        if shape is None or not _searched(shape):
            return direct, 0
        return direct, TILE * TILE * _ORIENTATIONS * len(search_grid(max(shape)))

    def threshold(self, shape: tuple[int, int]) -> float:
        """The z a direct read of a residual of ``shape`` needs to be found."""
        direct, searched = self.trials(shape)
        share = 1.0 - _SEARCH_SHARE if searched else 1.0
        return z_for_p_value(self.fpr * share, direct)

    def detect(self, rgb: npt.NDArray[Any]) -> Detection:
        """Whether ``rgb`` carries this key's mark, and its payload."""
        image = np.asarray(rgb)
        if not _is_grey_or_rgb(image, channels=(3, 4)) or image.size == 0:
            return Detection.undetectable(
                METHOD, "not an 8-bit grey, RGB or RGBA image array"
            )
        h, w = image.shape[:2]
        if min(h, w) < MIN_DETECT_SIDE:
            return Detection.undetectable(
                METHOD,
                f"image is {w}x{h}; detection needs at least "
                f"{MIN_DETECT_SIDE} pixels a side",
            )
        y = detection_luma(luma(image))
        if float(y.std()) < 0.5:
            return Detection.undetectable(
                METHOD, "image is flat; it carries no detectable pattern"
            )
        return self.detect_residual(residual(y), y=y)

    def detect_residual(self, r: Float, *, y: Float | None = None) -> Detection:
        """Detection from a residual (or an average of frame residuals)."""
        direct, searched = self.trials(r.shape)
        direct_share = 1.0 - _SEARCH_SHARE if searched else 1.0

        def scored(hit: _Hit, trials: int, share: float) -> _Hit:
            p = min(1.0, p_value_of_max(hit.z, trials) / share)
            return replace(hit, p_value=p)

        def read(lattice: Lattice, trials: int, share: float) -> _Hit:
            warped = warp_to_reference(*_enlarged_source(r, y, lattice))
            hit = _correlate(fold(warped), self._layout, lattice.describe())
            return scored(hit, trials, share)

        identity = {"scale_x": 1.0, "scale_y": 1.0, "rotation": 0.0}
        hit = scored(_correlate(fold(r), self._layout, identity), direct, direct_share)
        if hit.p_value > self.fpr:
            for lattice in find_lattices(r, limit=_LATTICES):
                hit = min(hit, read(lattice, direct, direct_share), key=_p)
                if hit.p_value <= self.fpr:
                    break
        if hit.p_value > self.fpr and searched:
            # Every grid point is paid for, not just the few read exactly: the
            # reads are the best of the grid, so the largest of them is at
            # most the largest over the grid.
            for candidate in self._search.candidates(r, limit=_SEARCH_READS):
                hit = min(hit, read(candidate.lattice, searched, _SEARCH_SHARE), key=_p)
                if hit.p_value <= self.fpr:
                    break
        return self._decide(hit)

    def _decide(self, hit: _Hit) -> Detection:
        p_value = hit.p_value
        dy, dx = hit.shift
        aligned = np.roll(hit.folded, (-dy, -dx), axis=(0, 1))
        soft, sigma = self._layout.soft_bits(chip_sums(aligned))
        confidence = 0.5 * (
            1 + np.vectorize(math.erf)(np.abs(soft) / sigma / math.sqrt(2))
        )
        present = p_value <= self.fpr
        raw_bits = (soft[:64] > 0).astype(np.uint8)
        # Only a present mark has a payload to decode; decoding noise would
        # only spend time (and the soft search is the slow part).
        decoded = (
            payload_code().decode(soft)
            if present
            else Decoded(ok=False, bits=raw_bits, corrected=0)
        )
        details: dict[str, Any] = {
            **hit.geometry,
            "mirrored": hit.mirrored,
            "shift": [int(dx), int(dy)],
            "ecc_ok": decoded.ok,
            "ecc_corrected": decoded.corrected,
            "ecc_method": decoded.method,
            "raw_bits": raw_bits.tolist(),
            "key": self.key.fingerprint,
        }
        payload = Payload.from_bits(decoded.bits) if present and decoded.ok else None
        return Detection(
            status=Status.PRESENT if present else Status.ABSENT,
            p_value=p_value,
            score=hit.z,
            payload=payload,
            bit_confidence=tuple(float(c) for c in confidence[:64]) if present else (),
            method=METHOD,
            details=details,
        )
