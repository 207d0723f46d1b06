"""All third-party marks in one call, for the scanner.

Stable Diffusion's marks need nothing but the pixels, so they are always
read; the vendor models run only when the user configured their files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from deepguard.watermark.base import DEFAULT_FPR, Detection
from deepguard.watermark.thirdparty._model_base import (
    AudioModelDetector,
    ImageModelDetector,
)
from deepguard.watermark.thirdparty.models import (
    ModelDetectorConfig,
    configured_models,
    load_model_detector,
)

if TYPE_CHECKING:
    from deepguard.config import WatermarkSettings
from deepguard.watermark.thirdparty.sd_marks import detect_sd_marks

__all__ = ["ThirdPartyDetector", "detect_third_party"]


class ThirdPartyDetector:
    """Stable Diffusion marks plus the configured vendor model detectors.

    Load it once (models are loaded in ``from_configs``) and call it per
    image or audio track.
    """

    def __init__(
        self,
        models: Sequence[ImageModelDetector | AudioModelDetector] = (),
        *,
        fpr: float = DEFAULT_FPR,
        sd_marks: bool = True,
    ) -> None:
        self.image_models = [m for m in models if isinstance(m, ImageModelDetector)]
        self.audio_models = [m for m in models if isinstance(m, AudioModelDetector)]
        self.fpr = fpr
        self.sd_marks = sd_marks

    @classmethod
    def from_configs(
        cls,
        configs: Iterable[ModelDetectorConfig],
        *,
        fpr: float = DEFAULT_FPR,
        sd_marks: bool = True,
    ) -> ThirdPartyDetector:
        """Load every configured model now, so a bad file fails at start-up.

        Raises:
            ConfigError: a model file is missing, unreadable or invalid.
            DependencyError: a model needs PyTorch, which is not installed.
        """
        models = [load_model_detector(config) for config in configs]
        return cls(models, fpr=fpr, sd_marks=sd_marks)

    @classmethod
    def from_settings(cls, settings: WatermarkSettings) -> ThirdPartyDetector:
        """The detector the ``[watermark]`` settings describe, models loaded.

        Raises:
            ConfigError: a configured model file is missing or invalid; the
                message names the setting and where to download the file.
            DependencyError: a configured model needs PyTorch.
        """
        return cls.from_configs(
            configured_models(settings), fpr=settings.fpr, sd_marks=settings.sd_marks
        )

    def detect_image(
        self,
        rgb: npt.NDArray[Any],
        *,
        only_present: bool = True,
        video_frame: bool = False,
    ) -> list[Detection]:
        """Every third-party mark found in an RGB image (or video frame).

        With ``only_present`` (the default) absent and undetectable results
        are dropped, so an empty list means no third-party mark. Stable
        Diffusion's marks are image marks, so ``video_frame`` skips them and
        runs only the vendor models.

        Raises:
            WatermarkError: ``rgb`` is not an 8-bit image array, or a model
                produced output it should not.
        """
        found = (
            detect_sd_marks(rgb, fpr=self.fpr)
            if self.sd_marks and not video_frame
            else []
        )
        if self.image_models and rgb.ndim == 3:
            pixels = np.ascontiguousarray(rgb[..., :3])
            found += [m.detect(pixels, fpr=self.fpr) for m in self.image_models]
        return [d for d in found if d.present] if only_present else found

    def detect_audio(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        only_present: bool = True,
    ) -> list[Detection]:
        """Every configured audio mark found in mono samples.

        Raises:
            WatermarkError: the samples are not at a model's sample rate.
        """
        found = [
            m.detect(samples, sample_rate, fpr=self.fpr) for m in self.audio_models
        ]
        return [d for d in found if d.present] if only_present else found


def detect_third_party(
    rgb: npt.NDArray[Any],
    *,
    models: Sequence[ImageModelDetector | AudioModelDetector] = (),
    fpr: float = DEFAULT_FPR,
) -> list[Detection]:
    """The third-party marks present in ``rgb``: SD marks and any model's.

    Raises:
        WatermarkError: ``rgb`` is not an 8-bit image array.
    """
    return ThirdPartyDetector(models, fpr=fpr).detect_image(rgb)
