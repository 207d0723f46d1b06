"""Explicit labels in a video: sample the opening densely, judge each frame.

The rules are described in :mod:`deepguard.labels.explicit.detect_visual`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from deepguard.config import Limits
from deepguard.errors import CorruptMedia
from deepguard.labels.explicit._detect_image import (
    DetectOptions,
    ImageLabelReport,
    LabelHit,
    Status,
    detect_image,
    scaled_hit,
)
from deepguard.labels.explicit.ocr import OcrEngine, get_engine
from deepguard.media.av import (
    VideoFrame,
    container_duration,
    iter_frames,
    open_container,
)

__all__ = ["FrameSample", "VideoLabelReport", "detect_video_file"]

_MAX_REFINE_FRAMES: Final = 48
"""Frames kept in memory while bisecting for the label's last frame."""

Phase = Literal["opening", "refine", "periodic"]


@dataclass(frozen=True, slots=True)
class FrameSample:
    """One OCR'd video frame: its time (from the first frame) and verdict."""

    timestamp: float
    report: ImageLabelReport
    phase: Phase

    @property
    def compliant(self) -> bool:
        """Whether a compliant notice is on this frame."""
        return self.report.status == "compliant"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (hits only; the options are in the video report)."""
        best = self.report.best
        return {
            "timestamp": round(self.timestamp, 3),
            "phase": self.phase,
            "status": self.report.status,
            "best": best.to_dict() if best else None,
            "hits": len(self.report.hits),
        }


@dataclass(frozen=True, slots=True)
class VideoLabelReport:
    """The verdict for one video file."""

    status: Status
    width: int
    height: int
    duration_s: float | None
    opening_visible_s: float
    samples: tuple[FrameSample, ...]
    ocr_dropouts: int
    opening_capped: bool
    """The label was still there when the opening window ended: the true time
    on screen is at least ``opening_visible_s``, possibly longer."""
    options: DetectOptions

    @property
    def best(self) -> LabelHit | None:
        """The best hit over all sampled frames."""
        hits = [h for s in self.samples for h in s.report.hits]
        return min(hits, key=LabelHit.rank) if hits else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        best = self.best
        return {
            "kind": "video",
            "status": self.status,
            "width": self.width,
            "height": self.height,
            "duration_s": (
                round(self.duration_s, 3) if self.duration_s is not None else None
            ),
            "opening_visible_s": round(self.opening_visible_s, 3),
            "opening_capped": self.opening_capped,
            "ocr_dropouts": self.ocr_dropouts,
            "best": best.to_dict() if best else None,
            "samples": [s.to_dict() for s in self.samples],
            "options": self.options.to_dict(),
        }


def detect_video_file(
    path: Path,
    *,
    limits: Limits | None = None,
    options: DetectOptions | None = None,
    engine: OcrEngine | None = None,
) -> VideoLabelReport:
    """Find and judge the explicit label of a video file (see module docs).

    Boxes are reported in the video's own pixels, whatever size OCR ran at.

    Raises:
        UnsupportedFormat: no video stream, or not a media file.
        CorruptMedia: no frame could be decoded (also for a video with none).
        MediaLimitExceeded: duration, pixels or decode time over ``limits``.
        DependencyError: the OCR engine is unavailable.
    """
    limits = limits or Limits()
    options = options or DetectOptions()
    engine = engine or get_engine()
    container = open_container(path, limits=limits)
    try:
        duration = container_duration(container)
        video = container.streams.video
        size = (
            (int(video[0].codec_context.width), int(video[0].codec_context.height))
            if video
            else (0, 0)
        )
    finally:
        container.close()
    sampler = _VideoSampler(path, limits, options, engine, size)
    opening = sampler.opening()
    visible, dropouts, capped = _opening_run(opening, sampler)
    periodic = sampler.periodic(duration)
    samples = tuple(sorted([*opening, *sampler.refined, *periodic], key=_sample_t))
    status = _video_status(samples, visible, sampler.last_t, options)
    return VideoLabelReport(
        status=status,
        width=size[0],
        height=size[1],
        duration_s=duration,
        opening_visible_s=visible,
        samples=samples,
        ocr_dropouts=dropouts,
        opening_capped=capped,
        options=options,
    )


def _sample_t(sample: FrameSample) -> float:
    return sample.timestamp


class _VideoSampler:
    """Decodes and OCRs the frames the video verdict needs, and no others.

    Timestamps are relative to the first decoded frame, so streams that start
    at a non-zero presentation time are judged from what a viewer sees first.
    """

    def __init__(
        self,
        path: Path,
        limits: Limits,
        options: DetectOptions,
        engine: OcrEngine,
        size: tuple[int, int],
    ) -> None:
        self.path = path
        self.limits = limits
        self.options = options
        self.engine = engine
        self.size = size
        self.t0 = 0.0
        self.frame_times: list[float] = []
        self.refined: list[FrameSample] = []
        self.last_t = 0.0
        self.window_cut = False
        """Whether the video goes on past the opening window."""

    def _analyse(self, frame: VideoFrame, phase: Phase) -> FrameSample:
        report = detect_image(frame.image, options=self.options, engine=self.engine)
        full_w, full_h = self.size
        if full_w and report.width and full_w != report.width:
            scale = full_w / report.width
            report = ImageLabelReport(
                report.status,
                full_w,
                full_h,
                tuple(scaled_hit(h, scale) for h in report.hits),
                report.ocr_lines,
                report.ocr_ms,
                report.options,
            )
        return FrameSample(frame.timestamp - self.t0, report, phase)

    def _iter(
        self, **kwargs: float | None
    ) -> contextlib.closing[Generator[VideoFrame, None, None]]:
        return contextlib.closing(
            iter_frames(
                self.path,
                limits=self.limits,
                max_side=self.engine.max_side,
                **kwargs,  # type: ignore[arg-type]
            )
        )

    def opening(self) -> list[FrameSample]:
        """OCR on the grid 0, step, 2 step ... up to one step past the opening.

        The last frame is also OCR'd when the video ends inside the window, so
        a short video labelled throughout is seen to be labelled to its end.
        """
        opts = self.options
        steps = math.ceil(opts.opening_s / opts.opening_step_s - 1e-9)
        window = steps * opts.opening_step_s
        samples: list[FrameSample] = []
        next_k = 0
        pending: VideoFrame | None = None
        ended = True
        with self._iter(fps=None) as frames:
            for frame in frames:
                if not self.frame_times:
                    self.t0 = frame.timestamp
                t = frame.timestamp - self.t0
                if t > window + 1e-6:
                    ended = False
                    break
                self.frame_times.append(t)
                if next_k <= steps and t >= next_k * opts.opening_step_s - 1e-6:
                    samples.append(self._analyse(frame, "opening"))
                    next_k = math.floor(t / opts.opening_step_s + 1e-6) + 1
                    pending = None
                else:
                    pending = frame
        if not self.frame_times:
            raise CorruptMedia("no video frame could be decoded", path=self.path)
        if ended and pending is not None:
            samples.append(self._analyse(pending, "opening"))
        self.last_t = self.frame_times[-1] if self.frame_times else 0.0
        self.window_cut = not ended
        return samples

    def refine(self, last_on: float, first_off: float) -> float:
        """End time of the last frame still carrying the label, by bisection."""
        between: list[VideoFrame] = []
        with self._iter(
            fps=None, start_s=self.t0 + last_on + 1e-6, end_s=self.t0 + first_off
        ) as frames:
            for frame in frames:
                t = frame.timestamp - self.t0
                if last_on + 1e-6 < t < first_off - 1e-6:
                    between.append(frame)
                if len(between) >= _MAX_REFINE_FRAMES:
                    break
        lo, hi = -1, len(between)  # between[lo] has the label, between[hi] not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            sample = self._analyse(between[mid], "refine")
            self.refined.append(sample)
            if sample.compliant:
                lo = mid
            else:
                hi = mid
        last = last_on if lo < 0 else between[lo].timestamp - self.t0
        return self.frame_end(last)

    def frame_end(self, t: float) -> float:
        """When the frame shown at ``t`` is replaced by the next one."""
        later = [x for x in self.frame_times if x > t + 1e-6]
        if later:
            return later[0]
        earlier = [x for x in self.frame_times if x < t - 1e-6]
        return t + (t - earlier[-1] if earlier else self.options.opening_step_s)

    def periodic(self, duration: float | None) -> list[FrameSample]:
        """Frames every ``periodic_step_s`` after the opening window."""
        opts = self.options
        if opts.max_periodic_samples == 0 or not self.frame_times:
            return []
        start = self.frame_times[-1] + 1e-3
        step = opts.periodic_step_s
        if duration is not None and duration > start:
            step = max(step, (duration - start) / opts.max_periodic_samples)
        samples: list[FrameSample] = []
        with self._iter(fps=1.0 / step, start_s=self.t0 + start) as frames:
            for frame in frames:
                samples.append(self._analyse(frame, "periodic"))
                self.last_t = max(self.last_t, frame.timestamp - self.t0)
                if len(samples) >= opts.max_periodic_samples:
                    break
        return samples


def _opening_run(
    opening: list[FrameSample], sampler: _VideoSampler
) -> tuple[float, int, bool]:
    """Seconds a compliant label stays on screen from the first frame.

    Also returns the OCR dropouts bridged and whether the run reached the
    end of the opening window with the video still going (a lower bound).
    """
    flags = [s.compliant for s in opening]
    dropouts = 0
    for i in range(1, len(flags) - 1):
        if (
            not flags[i]
            and flags[i - 1]
            and flags[i + 1]
            and _same_place(opening[i - 1], opening[i + 1])
        ):
            flags[i] = True
            dropouts += 1
    if not flags or not flags[0]:
        return 0.0, dropouts, False
    run = 0
    while run < len(flags) and flags[run]:
        run += 1
    if run == len(flags):
        end = sampler.frame_end(opening[-1].timestamp)
        return end, dropouts, sampler.window_cut
    end = sampler.refine(opening[run - 1].timestamp, opening[run].timestamp)
    return end, dropouts, False


def _same_place(a: FrameSample, b: FrameSample) -> bool:
    ba, bb = a.report.best, b.report.best
    if ba is None or bb is None:
        return False
    return _iou(ba.bounds, bb.bounds) > 0.5


def _iou(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _video_status(
    samples: Sequence[FrameSample],
    visible: float,
    last_t: float,
    options: DetectOptions,
) -> Status:
    whole_video = visible > 0 and visible >= last_t - 1e-6
    if visible >= options.opening_s - 1e-3 or whole_video:
        return "compliant"
    if any(s.compliant for s in samples):
        return "too_short"
    hits = [h for s in samples for h in s.report.hits]
    if not hits:
        return "absent"
    return min(hits, key=LabelHit.rank).status
