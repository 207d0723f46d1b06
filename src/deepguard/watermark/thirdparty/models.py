"""Model-file watermark detectors: TrustMark, VideoSeal and AudioSeal.

These marks are read by their vendors' neural decoders. deepguard never
downloads a model: the user fetches the file from the vendor (the URLs below
are named in messages only) and points the configuration at it. A missing,
unreadable or corrupt file is a one-line configuration error naming the path.

* TrustMark (Adobe) ships ONNX decoders, run with onnxruntime
  (:mod:`.trustmark`).
* VideoSeal and AudioSeal (Meta) ship PyTorch models, loaded as TorchScript
  with ``torch.jit.load`` (:mod:`._torch`). PyTorch is not a deepguard
  dependency; without it, configuring one of them is a one-line
  :class:`~deepguard.errors.DependencyError`.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import numpy as np
import numpy.typing as npt

from deepguard.errors import ConfigError
from deepguard.watermark.thirdparty._model_base import (
    AudioModelDetector,
    ImageModelDetector,
    ModelDetector,
    ModelKind,
)
from deepguard.watermark.thirdparty._torch import AudioSealDetector, VideoSealDetector
from deepguard.watermark.thirdparty.trustmark import TrustMarkDetector

if TYPE_CHECKING:
    from deepguard.config import WatermarkSettings

__all__ = [
    "TRUSTMARK_VARIANTS",
    "AudioModelDetector",
    "ImageModelDetector",
    "ModelDetector",
    "ModelDetectorConfig",
    "ModelKind",
    "check_model_file",
    "configured_models",
    "load_model_detector",
    "parse_bits",
]

TRUSTMARK_VARIANTS = ("C", "Q", "B", "P")


@dataclass(frozen=True, slots=True)
class _Vendor:
    """What to tell a user about one kind of model file."""

    title: str
    setting: str
    url: str


def _vendor(kind: ModelKind, variant: str) -> _Vendor:
    if kind == "trustmark":
        return _Vendor(
            f"TrustMark decoder model (variant {variant})",
            "watermark.trustmark_model",
            "https://cai-watermark.adobe.net/watermarking/trustmark-models/"
            f"decoder_{variant}.onnx",
        )
    if kind == "videoseal":
        return _Vendor(
            "VideoSeal TorchScript model",
            "watermark.videoseal_model",
            "https://dl.fbaipublicfiles.com/videoseal/y_256b_img.jit",
        )
    return _Vendor(
        "AudioSeal detector (TorchScript export of audioseal_detector_16bits)",
        "watermark.audioseal_model",
        "https://huggingface.co/facebook/audioseal",
    )


@dataclass(frozen=True, slots=True)
class ModelDetectorConfig:
    """Which vendor model to run and where its file is.

    Attributes:
        kind: ``trustmark``, ``videoseal`` or ``audioseal``.
        path: the model file the user downloaded.
        variant: TrustMark's model variant (``Q`` by default; ``P`` decodes at
            224 pixels from a centre square, the others at 256).
        expected_message: VideoSeal and AudioSeal carry a message but no
            calibrated presence bit; give the message a provider embeds
            (``0``/``1`` digits or ``0x`` hex) to test for it.

    Raises:
        ConfigError: an unknown kind or variant, or a malformed message.
    """

    kind: ModelKind
    path: Path
    variant: str = "Q"
    expected_message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in get_args(ModelKind):
            msg = (
                f"unknown watermark model kind {self.kind!r}; expected one of "
                + ", ".join(get_args(ModelKind))
            )
            raise ConfigError(msg)
        if self.kind == "trustmark" and self.variant not in TRUSTMARK_VARIANTS:
            msg = (
                f"unknown TrustMark variant {self.variant!r}; expected one of "
                + ", ".join(TRUSTMARK_VARIANTS)
            )
            raise ConfigError(msg)
        if self.expected_message is not None:
            parse_bits(self.expected_message)

    @property
    def vendor(self) -> _Vendor:
        return _vendor(self.kind, self.variant)

    @property
    def expected_bits(self) -> npt.NDArray[np.uint8] | None:
        if self.expected_message is None:
            return None
        return parse_bits(self.expected_message)


def parse_bits(text: str) -> npt.NDArray[np.uint8]:
    """``"0101..."`` or ``"0x5a..."`` (most significant bit first) as bits.

    Raises:
        ConfigError: anything else.
    """
    value = text.strip().lower()
    if re.fullmatch(r"[01]+", value):
        return np.array([int(c) for c in value], dtype=np.uint8)
    if re.fullmatch(r"0x[0-9a-f]+", value):
        digits = value[2:]
        return np.array(
            [int(b) for b in bin(int(digits, 16))[2:].zfill(4 * len(digits))],
            dtype=np.uint8,
        )
    msg = f"watermark message {text!r} is neither 0/1 digits nor 0x hex"
    raise ConfigError(msg)


def check_model_file(config: ModelDetectorConfig) -> Path:
    """The model path, once it is known to be a readable, non-empty file.

    Raises:
        ConfigError: the file is missing, not a regular file, unreadable or
            empty; the message names the vendor URL to download it from.
    """
    vendor = config.vendor
    path = config.path.expanduser()
    never = (
        f"deepguard never downloads models: download it from {vendor.url} "
        f"and point {vendor.setting} at it"
    )
    try:
        info = path.stat()
    except FileNotFoundError:
        msg = f"{vendor.title} not found; {never}"
        raise ConfigError(msg, path=path) from None
    except OSError as exc:
        msg = f"{vendor.title} cannot be read ({exc.strerror}); {never}"
        raise ConfigError(msg, path=path) from exc
    if not stat.S_ISREG(info.st_mode):
        msg = f"{vendor.title} is not a regular file; {never}"
        raise ConfigError(msg, path=path)
    if not os.access(path, os.R_OK):
        msg = f"{vendor.title} is not readable by this user; {never}"
        raise ConfigError(msg, path=path)
    if info.st_size == 0:
        msg = f"{vendor.title} is empty; {never}"
        raise ConfigError(msg, path=path)
    return path


def load_model_detector(
    config: ModelDetectorConfig,
) -> ImageModelDetector | AudioModelDetector:
    """Load the model ``config`` names, checking the file first.

    Raises:
        ConfigError: the file is missing, unreadable or not a valid model of
            that kind.
        DependencyError: the runtime it needs (PyTorch) is not installed.
    """
    path = check_model_file(config)
    if config.kind == "trustmark":
        return TrustMarkDetector.from_file(path, variant=config.variant)
    if config.kind == "videoseal":
        return VideoSealDetector.from_file(path, expected_bits=config.expected_bits)
    return AudioSealDetector.from_file(path, expected_bits=config.expected_bits)


def configured_models(settings: WatermarkSettings) -> list[ModelDetectorConfig]:
    """The vendor models the ``[watermark]`` settings point at, in a fixed order.

    Raises:
        ConfigError: an unknown TrustMark variant or a malformed message.
    """
    configs: list[ModelDetectorConfig] = []
    if settings.trustmark_model is not None:
        configs.append(
            ModelDetectorConfig(
                "trustmark",
                settings.trustmark_model,
                variant=settings.trustmark_variant,
            )
        )
    if settings.videoseal_model is not None:
        configs.append(
            ModelDetectorConfig(
                "videoseal",
                settings.videoseal_model,
                expected_message=settings.videoseal_message,
            )
        )
    if settings.audioseal_model is not None:
        configs.append(
            ModelDetectorConfig(
                "audioseal",
                settings.audioseal_model,
                expected_message=settings.audioseal_message,
            )
        )
    return configs
