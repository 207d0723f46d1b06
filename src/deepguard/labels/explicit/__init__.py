"""GB 45438 explicit (perceivable) labels: render them, and find them again.

Images, video and text get a visible notice with both GB elements (an AI
element and a generation element); images and video are checked with OCR for
a notice of the required size, position and, for video, duration. Audio gets
the rhythm cue "short long short short" (and optionally a spoken notice),
found again by the cue detector.
"""

from __future__ import annotations

from deepguard.labels.explicit.audio_cue import (
    DEFAULT_CUE,
    AudioCueReport,
    AudioCueStatus,
    CueHit,
    CuePosition,
    PlacedCueHit,
    RhythmCue,
    detect_cue,
    detect_cue_in_file,
    synthesize_cue,
)
from deepguard.labels.explicit.detect_visual import (
    DetectOptions,
    FrameSample,
    ImageLabelReport,
    LabelHit,
    VideoLabelReport,
    detect_image,
    detect_image_file,
    detect_video_file,
)
from deepguard.labels.explicit.fonts import FontChoice, find_font
from deepguard.labels.explicit.ocr import OcrBox, OcrEngine
from deepguard.labels.explicit.phrases import (
    LABEL_PHRASES,
    STRICT_LABEL_PHRASES,
    PhraseMatch,
    find_labels,
    match_label,
)
from deepguard.labels.explicit.render_audio import (
    DEFAULT_NOTICE,
    AudioLabelResult,
    LabelPosition,
    RenderMode,
    SpokenNotice,
    count_notice_characters,
    notice_has_both_elements,
    render_audio_label,
    synthesize_notice,
)
from deepguard.labels.explicit.render_image import (
    MIN_HEIGHT_RATIO,
    POSITIONS,
    InvalidLabelStyle,
    LabelPlacement,
    LabelStyle,
    RenderedImage,
    draw_label,
    render_image_file,
)
from deepguard.labels.explicit.render_text import (
    RenderedText,
    TextNoticeStyle,
    add_notice,
    render_text_file,
)
from deepguard.labels.explicit.render_video import (
    MIN_OPENING_S,
    RenderedVideo,
    VideoLabelStyle,
    render_video_file,
)

__all__ = [
    "DEFAULT_CUE",
    "DEFAULT_NOTICE",
    "LABEL_PHRASES",
    "MIN_HEIGHT_RATIO",
    "MIN_OPENING_S",
    "POSITIONS",
    "STRICT_LABEL_PHRASES",
    "AudioCueReport",
    "AudioCueStatus",
    "AudioLabelResult",
    "CueHit",
    "CuePosition",
    "DetectOptions",
    "FontChoice",
    "FrameSample",
    "ImageLabelReport",
    "InvalidLabelStyle",
    "LabelHit",
    "LabelPlacement",
    "LabelPosition",
    "LabelStyle",
    "OcrBox",
    "OcrEngine",
    "PhraseMatch",
    "PlacedCueHit",
    "RenderMode",
    "RenderedImage",
    "RenderedText",
    "RenderedVideo",
    "RhythmCue",
    "SpokenNotice",
    "TextNoticeStyle",
    "VideoLabelReport",
    "VideoLabelStyle",
    "add_notice",
    "count_notice_characters",
    "detect_cue",
    "detect_cue_in_file",
    "detect_image",
    "detect_image_file",
    "detect_video_file",
    "draw_label",
    "find_font",
    "find_labels",
    "match_label",
    "notice_has_both_elements",
    "render_audio_label",
    "render_image_file",
    "render_text_file",
    "render_video_file",
    "synthesize_cue",
    "synthesize_notice",
]
