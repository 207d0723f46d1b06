"""Voice verification for bench/likeness.py: enrolment vs test utterances, EER.

Per LibriSpeech speaker the first utterances (sorted by file name) are the
enrolment, their embeddings averaged and renormalised, as a registry holding
several clips of a person would compare; the rest are the tests. Every
enrolment is scored against every test utterance (cosine similarity, as the
index scores voices): the speaker's own are target trials, the others
non-target trials.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console

from _likeness_report import peak_rss_mib, table
from deepguard.config import Limits
from deepguard.likeness.calibration import default_calibration
from deepguard.likeness.voices import RATE, VoiceEngine, load_voice

ENROL_UTTERANCES = 3


def voice_section(
    console: Console, result: dict[str, Any], engine: VoiceEngine, voices: Path
) -> list[npt.NDArray[np.float32]]:
    started = time.perf_counter()
    speakers = sorted(p for p in voices.iterdir() if p.is_dir())
    enrol: dict[str, npt.NDArray[np.float64]] = {}
    tests: list[tuple[str, npt.NDArray[np.float64]]] = []
    clips: list[npt.NDArray[np.float32]] = []
    for speaker in speakers:
        vectors = []
        for path in sorted(speaker.glob("*.flac")):
            samples = load_voice(path, limits=Limits())
            clips.append(samples)
            vectors.append(engine.embed(samples).embedding.astype(np.float64))
        mean = np.mean(vectors[:ENROL_UTTERANCES], axis=0)
        enrol[speaker.name] = mean / np.linalg.norm(mean)
        tests += [
            (speaker.name, v / np.linalg.norm(v)) for v in vectors[ENROL_UTTERANCES:]
        ]
    target = np.asarray([enrol[s] @ v for s, v in tests])
    nontarget = np.asarray([enrol[e] @ v for e in enrol for s, v in tests if s != e])
    eer, eer_threshold = _eer(target, nontarget)
    calibration = default_calibration("voice")
    voice: dict[str, Any] = {
        "speakers": len(speakers),
        "utterances": len(clips),
        "audio_s": sum(c.size for c in clips) / RATE,
        "target_trials": int(target.size),
        "nontarget_trials": int(nontarget.size),
        "eer": eer,
        "eer_threshold_cosine": eer_threshold,
        "calibrated_threshold_cosine": calibration.threshold,
        "tpr_at_calibrated": float((target >= calibration.threshold).mean()),
        "fpr_at_calibrated": float((nontarget >= calibration.threshold).mean()),
        "target_cosine": [float(target.mean()), float(target.min())],
        "nontarget_cosine": [float(nontarget.mean()), float(nontarget.max())],
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": peak_rss_mib(),
    }
    result["voice_verification"] = voice
    console.print(
        table(
            f"3. Voice verification: {voice['speakers']} speakers, enrolment = "
            f"{ENROL_UTTERANCES} utterances averaged, test = the other "
            f"{voice['utterances'] // voice['speakers'] - ENROL_UTTERANCES}",
            ["measure", "value"],
            [
                [
                    "target / non-target trials",
                    f"{voice['target_trials']} / {voice['nontarget_trials']}",
                ],
                ["EER", f"{100 * eer:.2f}%"],
                ["threshold at EER (cosine)", f"{eer_threshold:.4f}"],
                ["calibrated threshold (cosine)", f"{calibration.threshold:.4f}"],
                [
                    "TPR / FPR at calibrated",
                    f"{voice['tpr_at_calibrated']:.4f} / "
                    f"{voice['fpr_at_calibrated']:.4f}",
                ],
                [
                    "target cosine mean [min]",
                    f"{target.mean():.3f} [{target.min():.3f}]",
                ],
                [
                    "non-target cosine mean [max]",
                    f"{nontarget.mean():.3f} [{nontarget.max():.3f}]",
                ],
            ],
        )
    )
    return clips


def _eer(
    target: npt.NDArray[np.float64], nontarget: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """Equal error rate and its threshold, over every observed score as a cut."""
    best = (2.0, 0.0, 0.0)
    for cut in np.unique(np.concatenate([target, nontarget])):
        far = float((nontarget >= cut).mean())
        frr = float((target < cut).mean())
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2, float(cut))
    return best[1], best[2]
