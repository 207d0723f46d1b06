"""The interface every vendor model detector implements.

Kept apart from :mod:`.models` (configuration and loading) so that the
detectors and the loader can both import it.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from deepguard.watermark.base import DEFAULT_FPR, Detection

__all__ = ["AudioModelDetector", "ImageModelDetector", "ModelDetector", "ModelKind"]

ModelKind = Literal["trustmark", "videoseal", "audioseal"]


class ModelDetector(abc.ABC):
    """A loaded vendor decoder: one per configured model file."""

    kind: ClassVar[ModelKind]
    method: ClassVar[str]


class ImageModelDetector(ModelDetector):
    """Reads a mark from one RGB image (or one video frame)."""

    @abc.abstractmethod
    def detect(
        self, rgb: npt.NDArray[np.uint8], *, fpr: float = DEFAULT_FPR
    ) -> Detection:
        """Detect in an ``HxWx3`` ``uint8`` RGB array.

        Raises:
            WatermarkError: the model produced output it should not.
        """


class AudioModelDetector(ModelDetector):
    """Reads a mark from mono audio at the model's sample rate."""

    sample_rate: ClassVar[int]

    @abc.abstractmethod
    def detect(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        fpr: float = DEFAULT_FPR,
    ) -> Detection:
        """Detect in mono float samples in [-1, 1].

        Raises:
            WatermarkError: wrong sample rate, or unexpected model output.
        """
