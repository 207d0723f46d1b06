"""Find GB 45438 explicit labels in images and video frames, and judge them.

For each OCR line that reads as an AI notice (see :mod:`.phrases`) three
checks run on the part of the line the notice occupies, in this order, and
the first that fails names the hit's status:

1. ``incomplete``: the notice lacks the generation element ("Made with AI").
2. ``too_small``: text height under ``min_height_ratio`` of the shortest
   side. The height is measured on the glyph pixels at half coverage (the
   renderer's definition), not taken from the OCR box, which runs up to 40 %
   taller on small text; see :mod:`._geometry`. ``height_source`` says
   whether the pixels gave an answer ("ink" or "glyphs") or the OCR box had
   to stand in ("box"). A relative ``tolerance`` absorbs the one-pixel
   uncertainty of glyph edges.
3. ``wrong_position``: the notice does not hug an edge or a corner (a near
   side within ``edge_gap`` of the border and the centre in the outer
   ``edge_centre`` of the frame; the renderer refuses anything else).

When several notices are visible the best one decides: fewest failed checks,
then the taller text, then the OCR confidence. A frame with a compliant
notice plus a small watermark elsewhere is compliant.

Video: the standard wants the label on the opening frames for at least
``opening_s`` (2 s). Frames are OCR'd every ``opening_step_s`` through the
opening window, and where the label disappears the exact last frame is found
by bisection over the frames in between, so the on-screen time is accurate to
one frame. Later frames are sampled every ``periodic_step_s`` to report
labels in the middle and at the end. The video is ``compliant`` when a
compliant label is on screen, uninterrupted, from the first frame for
``opening_s`` (or for the whole video when it is shorter); ``too_short``
when a compliant label is seen but not for long enough from the start;
otherwise the best hit's status, or ``absent``. A single sampled frame
without the label between two frames with it in the same place is taken as
an OCR miss, not a gap, and counted in ``ocr_dropouts``.
"""

from __future__ import annotations

from deepguard.labels.explicit._detect_image import (
    DetectOptions,
    ImageLabelReport,
    LabelHit,
    Status,
    detect_image,
    detect_image_file,
)
from deepguard.labels.explicit._detect_video import (
    FrameSample,
    VideoLabelReport,
    detect_video_file,
)

__all__ = [
    "DetectOptions",
    "FrameSample",
    "ImageLabelReport",
    "LabelHit",
    "Status",
    "VideoLabelReport",
    "detect_image",
    "detect_image_file",
    "detect_video_file",
]
