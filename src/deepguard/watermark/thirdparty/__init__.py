"""Third-party invisible watermarks: Stable Diffusion's marks and vendor models.

* Stable Diffusion's ``dwtDct`` marks are read by our own decoder
  (:mod:`.sd_marks`, :mod:`._dwtdct`); nothing to configure.
* TrustMark, VideoSeal and AudioSeal need their vendors' model files, which
  the user supplies and deepguard never downloads (:mod:`.models`).
* :class:`ThirdPartyDetector` runs all of them for the scanner.
"""

from __future__ import annotations

from deepguard.watermark.thirdparty._model_base import (
    AudioModelDetector,
    ImageModelDetector,
    ModelDetector,
)
from deepguard.watermark.thirdparty.detector import (
    ThirdPartyDetector,
    detect_third_party,
)
from deepguard.watermark.thirdparty.models import (
    ModelDetectorConfig,
    check_model_file,
    load_model_detector,
)
from deepguard.watermark.thirdparty.sd_marks import SD_MARKS, SdMark, detect_sd_marks

__all__ = [
    "SD_MARKS",
    "AudioModelDetector",
    "ImageModelDetector",
    "ModelDetector",
    "ModelDetectorConfig",
    "SdMark",
    "ThirdPartyDetector",
    "check_model_file",
    "detect_sd_marks",
    "detect_third_party",
    "load_model_detector",
]
