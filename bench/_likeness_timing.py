"""Speed sections of bench/likeness.py: detect + embed with the peer, video, voice.

The measuring primitives (frames, the peer's import, the clip) are in
``_likeness_speed``; this module runs them and prints the tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console

import _likeness_faces as lf
import _likeness_speed as ls
from _likeness_report import peak_rss_mib, table
from deepguard.config import Limits
from deepguard.likeness.faces import FaceEngine
from deepguard.likeness.finder import LikenessFinder
from deepguard.likeness.voices import VoiceEngine
from deepguard.media.image import load_image
from deepguard.store.interface import FaceReference, Person
from deepguard.store.memory import MemoryStore

SPEED_PHOTOS = (
    "test/obama_and_biden.jpg",
    "test/kit_with_rose.jpg",
    "test/alex_lacamoire1.jpg",
    "test/johnsnow_test1.jpg",
    "test/obama1.jpg",
    "extra_two_people.jpg",
    "train/biden/biden.jpg",
    "train/rose_leslie/img1.jpg",
)


def speed_section(
    console: Console,
    result: dict[str, Any],
    faces: list[lf.Labelled],
    clips: list[npt.NDArray[np.float32]],
    args: argparse.Namespace,
    faces_dir: Path,
) -> None:
    speed: dict[str, Any] = {}
    result["speed"] = speed
    frame_speed(console, speed, args, faces_dir)
    video_speed(console, speed, faces, clips, args, faces_dir)


def frame_speed(
    console: Console,
    speed: dict[str, Any],
    args: argparse.Namespace,
    faces_dir: Path,
) -> None:
    """Detect + embed on the same frames: deepguard, then face_recognition."""
    engine = FaceEngine()
    photos = [
        np.asarray(load_image(faces_dir / n, limits=Limits()), np.uint8)
        for n in SPEED_PHOTOS
    ]
    peer, peer_note = ls.load_face_recognition()
    speed.update(peer=peer_note, frames={})
    rows: list[list[str]] = []
    ratios: list[float] = []
    for size, (w, h) in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        frames = [ls.letterbox(p, w, h) for p in photos]
        runs = {"deepguard": ls.deepguard_faces(engine)}
        if peer is not None:
            runs["face_recognition (upsample 1, its default)"] = ls.peer_faces(peer, 1)
            runs["face_recognition (upsample 0)"] = ls.peer_faces(peer, 0)
        measured = {
            name: ls.time_frames(run, frames, args.repeats)
            for name, run in runs.items()
        }
        speed["frames"][size] = {
            name: {"wall_s": m[0], "cpu_s": m[1], "faces": m[2], "frames": len(frames)}
            for name, m in measured.items()
        }
        dg_wall, dg_cpu, _ = measured["deepguard"]
        for name, (wall, cpu, found) in measured.items():
            ratio = f"{wall / dg_wall:.2f}× / {cpu / dg_cpu:.2f}×"
            rows.append(
                [
                    size,
                    name,
                    str(found),
                    f"{len(frames) / wall:.2f}",
                    f"{found / wall:.2f}",
                    f"{cpu:.2f}",
                    "-" if name == "deepguard" else ratio,
                ]
            )
            if name.startswith("face_recognition (upsample 1"):
                ratios.append(wall / dg_wall)
        if peer is None:
            rows.append([size, "face_recognition", "-", "-", "-", "-", peer_note])
    speed["peer_ratio_min"] = min(ratios) if ratios else None
    speed["faces_peak_rss_mib"] = peak_rss_mib()
    console.print(
        table(
            f"4a/5. Detect + embed on the same {len(photos)} shared photos "
            f"letterboxed (median of {args.repeats} after a warm-up)",
            [
                "size",
                "pipeline",
                "faces",
                "frames/s",
                "faces/s",
                "CPU s",
                "deepguard speed-up wall / CPU",
            ],
            rows,
        )
    )


def video_speed(
    console: Console,
    speed: dict[str, Any],
    faces: list[lf.Labelled],
    clips: list[npt.NDArray[np.float32]],
    args: argparse.Namespace,
    faces_dir: Path,
) -> None:
    """The video scan's and the voice windows' real-time factors."""
    obama = next(f for f in faces if f.photo == "train/obama/obama.jpg")
    crop = ls.face_crop(
        np.asarray(load_image(faces_dir / obama.photo, limits=Limits()), np.uint8),
        obama.face,
    )
    finder = _finder(faces, faces_dir)
    with tempfile.TemporaryDirectory(prefix="deepguard-bench-likeness-") as tmp:
        clip = Path(tmp) / "face720p30.mp4"
        started = time.perf_counter()
        ls.write_face_clip(clip, crop, seconds=args.clip_s)
        encode_s = time.perf_counter() - started
        video_s, video_cpu, found = ls.time_video(finder, clip, args.repeats)
    people = {p.id: p.name for p in finder.people.list_people()}
    seen = sorted({people[a.person_id] for a in found.appearances})
    v = speed["video"] = {
        "clip_s": args.clip_s,
        "encode_s": encode_s,
        "scan_s": video_s,
        "cpu_s": video_cpu,
        "rtf": args.clip_s / video_s,
        "appearances": len(found.appearances),
        "people": seen,
        "faces_seen": found.faces_seen,
        "not_comparable": found.not_comparable_count,
    }
    rows = [
        [
            "video scan, 720p30 H.264, 2 fps (LikenessFinder.in_video)",
            f"{args.clip_s:g}",
            f"{video_s:.2f}",
            f"{video_cpu:.2f}",
            f"{v['rtf']:.1f} / {args.clip_s / video_cpu:.1f}",
            f"{v['appearances']} appearance(s) of {', '.join(seen) or 'nobody'}"
            f", {v['faces_seen']} sightings",
        ]
    ]
    speech = ls.seconds_of_speech(clips, 60.0)
    speed["voice"] = {}
    for threads in (1, 2):
        engine = VoiceEngine(threads=threads)
        wall, cpu, windows = ls.time_voice(engine, speech, args.repeats)
        speed["voice"][f"threads_{threads}"] = {
            "audio_s": 60.0,
            "wall_s": wall,
            "cpu_s": cpu,
            "rtf": 60.0 / wall,
            "embedded_windows": windows,
        }
        rows.append(
            [
                f"voice windows (3 s, 1.5 s hop), VoiceEngine(threads={threads})",
                "60",
                f"{wall:.2f}",
                f"{cpu:.2f}",
                f"{60.0 / wall:.1f} / {60.0 / cpu:.1f}",
                f"{windows} windows embedded",
            ]
        )
    speed["peak_rss_mib"] = peak_rss_mib()
    console.print(
        table(
            f"4b. Real-time factors (median of {args.repeats} after a warm-up)",
            ["what", "media s", "wall s", "CPU s", "× real time (wall / CPU)", "found"],
            rows,
        )
    )


def _finder(faces: list[lf.Labelled], faces_dir: Path) -> LikenessFinder:
    """A finder over an in-memory registry holding the train faces."""
    store = MemoryStore()
    ids: dict[str, int] = {}
    for face in faces:
        if face.split != "train":
            continue
        if face.identity not in ids:
            ids[face.identity] = store.add_person(person=Person(name=face.identity)).id
        ref = FaceReference(
            sha256=lf.sha256(faces_dir / face.photo),
            box=face.face.box,
            quality=face.face.quality,
            embedding=face.embedding,
            source=face.photo,
        )
        store.add_references(person_id=ids[face.identity], faces=[ref])
    finder = LikenessFinder(store)
    finder.index("face")  # build the index outside the timed runs
    return finder
