"""The built-in carriers, one module per format (the registry's one list)."""

from __future__ import annotations

from deepguard.labels.implicit.avi import AviCarrier
from deepguard.labels.implicit.carrier import Carrier
from deepguard.labels.implicit.flv import FlvCarrier
from deepguard.labels.implicit.gif import GifCarrier
from deepguard.labels.implicit.heif import HeifCarrier
from deepguard.labels.implicit.jpeg import JpegCarrier
from deepguard.labels.implicit.markdown import MarkdownCarrier
from deepguard.labels.implicit.matroska import MatroskaCarrier
from deepguard.labels.implicit.mp3 import Mp3Carrier
from deepguard.labels.implicit.mp4 import Mp4Carrier
from deepguard.labels.implicit.ooxml import OoxmlCarrier
from deepguard.labels.implicit.pdf import PdfCarrier
from deepguard.labels.implicit.png import PngCarrier
from deepguard.labels.implicit.text import TextCarrier
from deepguard.labels.implicit.tiff import TiffCarrier
from deepguard.labels.implicit.vorbis import VorbisCarrier
from deepguard.labels.implicit.wav import WavCarrier
from deepguard.labels.implicit.webp import WebpCarrier

__all__ = ["CARRIER_CLASSES"]

CARRIER_CLASSES: tuple[type[Carrier], ...] = (
    PngCarrier,
    JpegCarrier,
    WebpCarrier,
    TiffCarrier,
    GifCarrier,
    HeifCarrier,
    Mp4Carrier,
    MatroskaCarrier,
    FlvCarrier,
    AviCarrier,
    WavCarrier,
    Mp3Carrier,
    VorbisCarrier,
    PdfCarrier,
    OoxmlCarrier,
    MarkdownCarrier,
    TextCarrier,
)
