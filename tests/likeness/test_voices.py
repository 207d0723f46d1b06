"""Voice embeddings: Resemblyzer's mel, VAD and GE2E encoder, and the speech measure.

The speakers are ../shared/data/voices (LibriSpeech test-other, 10 speakers x 10
utterances). Measured when these tests were written, enrolling each speaker with
3 utterances (mean embedding) and testing the other 7: EER 0 %, same-speaker
cosine 0.80-0.97, different speakers 0.40-0.74; 3 s windows against the
enrolments 0.70-0.94 and 0.36-0.73. The reference embedding below was computed
by Resemblyzer 0.1.4 itself (with librosa 0.11) on the same utterance; this
implementation agreed with it to 1.4e-7 on every one of 12 utterances checked.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch

from deepguard.config import Limits
from deepguard.errors import ConfigError, DeepguardError, InvalidSignal
from deepguard.likeness import _mel, _vad
from deepguard.likeness._ge2e import partial_slices
from deepguard.likeness.voices import (
    RATE,
    VoiceEmbedding,
    VoiceEngine,
    VoiceWindow,
    load_voice,
)
from media_factory import chords, write_image, write_video

LIMITS = Limits()
Floats = npt.NDArray[np.float32]

# Resemblyzer's VoiceEncoder().embed_utterance(preprocess_wav(wav)) on
# 1688/1688-142285-0000.flac: its first 8 dimensions and its largest ones.
REFERENCE_FILE = "1688/1688-142285-0000.flac"
REFERENCE_HEAD = [0.0, 0.021606, 0.120506, 0.0, 0.0, 0.134867, 0.0, 0.009722]
REFERENCE_TOP = {21: 0.232933, 243: 0.220975, 139: 0.182117, 136: 0.168872}


@pytest.fixture(scope="module")
def engine() -> VoiceEngine:
    return VoiceEngine()


@pytest.fixture(scope="module")
def voices(shared_data: Path) -> Path:
    root = shared_data / "voices" / "librispeech_test-other"
    if not root.is_dir():
        pytest.skip("../shared/data/voices is absent")
    return root


@pytest.fixture(scope="module")
def utterance(voices: Path) -> Callable[[str, int], Floats]:
    """Decoded utterance ``index`` of ``speaker``, cached."""
    cache: dict[tuple[str, int], Floats] = {}

    def load(speaker: str, index: int) -> Floats:
        if (speaker, index) not in cache:
            path = sorted((voices / speaker).glob("*.flac"))[index]
            cache[speaker, index] = load_voice(path, limits=LIMITS)
        return cache[speaker, index]

    return load


def _unit(v: npt.NDArray[np.floating]) -> Floats:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _enrol(engine: VoiceEngine, clips: list[Floats]) -> Floats:
    """A speaker's reference: the normalised mean of clip embeddings."""
    return _unit(np.mean([engine.embed(c).embedding for c in clips], axis=0))


def _eer(genuine: list[float], impostor: list[float]) -> float:
    """Equal error rate: where false rejects and false accepts cross."""
    g, i = np.asarray(genuine), np.asarray(impostor)
    best, rate = 2.0, 1.0
    for t in np.unique(np.concatenate([g, i])):
        frr, far = float(np.mean(g < t)), float(np.mean(i >= t))
        if abs(frr - far) < best:
            best, rate = abs(frr - far), (frr + far) / 2
    return rate


def _tone(hz: float, seconds: float, amplitude: float = 0.3) -> Floats:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * math.pi * hz * t)).astype(np.float32)


def _plucked_melody(seconds: float, seed: int) -> Floats:
    """Notes of 0.1-0.3 s with decaying harmonics: a plucked instrument."""
    rng = np.random.default_rng(seed)
    out = np.zeros(round(seconds * RATE))
    pos = 0
    while pos < out.size:
        n = min(round(RATE * rng.choice([0.1, 0.2, 0.3])), out.size - pos)
        t = np.arange(n) / RATE
        f = 440 * 2 ** ((int(rng.integers(40, 80)) - 69) / 12)
        note = sum(np.sin(2 * math.pi * f * h * t) / h**1.5 for h in range(1, 8))
        out[pos : pos + n] = note * np.exp(-8 * t)
        pos += n
    scaled: Floats = (0.4 * out / float(np.abs(out).max())).astype(np.float32)
    return scaled


def _drums(seconds: float, seed: int) -> Floats:
    """A 4/4 beat: a decaying 80 Hz kick under a noise snare every 0.25 s."""
    rng = np.random.default_rng(seed)
    out = np.zeros(round(seconds * RATE))
    for k in range(0, out.size, RATE // 4):
        n = min(RATE // 8, out.size - k)
        t = np.arange(n) / RATE
        snare = 0.8 if (k // (RATE // 4)) % 2 else 0.3
        out[k : k + n] += snare * rng.standard_normal(n) * np.exp(-30 * t)
        out[k : k + n] += np.sin(2 * math.pi * 80 * t) * np.exp(-20 * t)
    scaled: Floats = (0.4 * out / float(np.abs(out).max())).astype(np.float32)
    return scaled


# --- mel spectrogram -----------------------------------------------------------


def test_mel_shape_and_framing() -> None:
    mel = _mel.mel_spectrogram(_tone(440, 1.0))
    assert mel.shape == (101, 40)  # centred frames every 10 ms
    assert mel.dtype == np.float32
    assert (mel >= 0).all()
    assert _mel.mel_spectrogram(np.zeros(0, np.float32)).shape == (1, 40)


@pytest.mark.parametrize("hz", [250.0, 1000.0, 3000.0, 6000.0])
def test_mel_tone_lands_in_its_band(hz: float) -> None:
    mel = _mel.mel_spectrogram(_tone(hz, 0.5))
    band = int(mel[25].argmax())
    centres = _mel.mel_to_hz(
        np.linspace(_mel.hz_to_mel(0.0), _mel.hz_to_mel(8000.0), 42)
    )[1:-1]
    assert band == int(np.abs(centres - hz).argmin())


def test_mel_matches_librosa() -> None:
    """Values librosa 0.11 gives for the same input and parameters."""
    fb = _mel.mel_filterbank()
    assert fb.shape == (40, 201)
    np.testing.assert_allclose(
        fb[0, :4], [0.0, 0.00739021, 0.01240452, 0.00501431], atol=1e-8
    )
    assert fb.sum() == pytest.approx(0.9994972, rel=1e-6)
    mel = _mel.mel_spectrogram(_tone(1000, 1.0, amplitude=1.0))
    assert int(mel[50].argmax()) == 13
    assert float(mel[50].max()) == pytest.approx(104.51997, rel=1e-5)
    assert float(mel.sum(dtype=np.float64)) == pytest.approx(19605.266, rel=1e-5)


# --- encoder -------------------------------------------------------------------


def test_partials_follow_resemblyzer() -> None:
    # 3 s: partials start every 77 frames and the last is kept (91 % covered).
    assert [s.start for s in partial_slices(3 * RATE)] == [0, 77, 154]
    # Under 1.6 s there is still one (zero-padded) partial.
    assert partial_slices(8000) == [slice(0, 160)]


def test_encoder_reproduces_resemblyzer(engine: VoiceEngine, voices: Path) -> None:
    samples = load_voice(voices / REFERENCE_FILE, limits=LIMITS)
    result = engine.embed(samples)
    vector = result.embedding
    assert vector.shape == (256,)
    assert vector.dtype == np.float32
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(vector[:8], REFERENCE_HEAD, atol=2e-5)
    for index, value in REFERENCE_TOP.items():
        assert float(vector[index]) == pytest.approx(value, abs=2e-5)
    assert 8.0 < result.speech_s < 15.0  # of a 15 s read sentence


def test_same_speaker_scores_above_different(
    engine: VoiceEngine, utterance: Callable[[str, int], Floats]
) -> None:
    a1, a2 = (engine.embed(utterance("1998", i)).embedding for i in (1, 2))
    b1, b2 = (engine.embed(utterance("3080", i)).embedding for i in (1, 2))
    c1 = engine.embed(utterance("2033", 0)).embedding
    same = [float(a1 @ a2), float(b1 @ b2)]
    different = [float(a1 @ b1), float(a2 @ b2), float(a1 @ c1), float(b1 @ c1)]
    assert min(same) > max(different) + 0.1


def test_verification_eer_on_a_subset(
    engine: VoiceEngine, utterance: Callable[[str, int], Floats]
) -> None:
    """Enrol 5 speakers with 2 utterances each; test 3 more of each."""
    speakers = ["1688", "2414", "2609", "3331", "533"]
    enrolled = {s: _enrol(engine, [utterance(s, 0), utterance(s, 1)]) for s in speakers}
    genuine: list[float] = []
    impostor: list[float] = []
    for s in speakers:
        for i in (3, 5, 7):
            probe = engine.embed(utterance(s, i)).embedding
            for t, ref in enrolled.items():
                (genuine if t == s else impostor).append(float(probe @ ref))
    assert _eer(genuine, impostor) < 0.10
    assert np.mean(genuine) > np.mean(impostor) + 0.2


# --- speech measure ------------------------------------------------------------


def test_espeak_speech_counts(engine: VoiceEngine, tmp_path: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path / "speech.wav"
    text = (
        "Protected people enrol their voice, and the scanner finds it in uploads "
        "from accounts that have no right to use it."
    )
    subprocess.run([espeak, "-w", str(path), text], check=True, timeout=60)
    samples = load_voice(path, limits=LIMITS)
    seconds = engine.speech_seconds(samples)
    assert 0.6 * samples.size / RATE < seconds <= samples.size / RATE


def test_librispeech_speech_counts(
    engine: VoiceEngine, utterance: Callable[[str, int], Floats]
) -> None:
    samples = utterance("3080", 2)  # 10 s read aloud
    vad_seconds = _vad.voice_flags(_vad.normalize_volume(samples)).sum() * 0.03
    assert engine.speech_seconds(samples) > 0.85 * vad_seconds


NON_SPEECH: dict[str, Callable[[], Floats]] = {
    "white noise": lambda: (
        0.1 * np.random.default_rng(0).standard_normal(10 * RATE)
    ).astype(np.float32),
    "tone": lambda: _tone(440, 10.0),
    "chords": lambda: chords(10.0, seed=1).astype(np.float32),
    "chords, another seed": lambda: chords(10.0, seed=4).astype(np.float32),
    "plucked melody": lambda: _plucked_melody(10.0, seed=2),
    "drums": lambda: _drums(10.0, seed=3),
}


@pytest.mark.parametrize("name", sorted(NON_SPEECH))
def test_noise_tones_and_music_are_not_speech(engine: VoiceEngine, name: str) -> None:
    samples = NON_SPEECH[name]()
    # webrtcvad alone takes most of these for voice; the speech measure must not.
    assert engine.speech_seconds(samples) < 0.5
    if name != "drums":
        assert _vad.voice_flags(_vad.normalize_volume(samples)).mean() > 0.5


def test_silence_is_not_speech(engine: VoiceEngine) -> None:
    assert engine.speech_seconds(np.zeros(5 * RATE, np.float32)) == 0.0
    assert engine.speech_seconds(np.zeros(100, np.float32)) == 0.0
    with pytest.raises(InvalidSignal, match="no voice activity"):
        engine.embed(np.zeros(5 * RATE, np.float32))


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros((2, 16000), np.float32),
        np.zeros(16000, np.int16),
        np.full(16000, np.nan, np.float32),
    ],
    ids=["stereo", "int16", "nan"],
)
def test_malformed_samples_are_refused(
    engine: VoiceEngine, samples: npt.NDArray[np.generic]
) -> None:
    with pytest.raises(InvalidSignal):
        engine.speech_seconds(samples)  # type: ignore[arg-type]


# --- windows -------------------------------------------------------------------


def test_windows_locate_two_speakers_in_time(
    engine: VoiceEngine, utterance: Callable[[str, int], Floats]
) -> None:
    """Speaker A then speaker B (two women): each window sides with the right one."""
    a, b = utterance("1998", 4), utterance("3080", 5)
    ref_a = _enrol(engine, [utterance("1998", i) for i in (0, 1, 2)])
    ref_b = _enrol(engine, [utterance("3080", i) for i in (0, 1, 2)])
    clip = np.concatenate([a, b])
    boundary = a.size / RATE
    total = clip.size / RATE
    windows = engine.windows(clip, window_s=3.0, hop_s=1.5)

    assert [w.start_s for w in windows[:3]] == [0.0, 1.5, 3.0]
    assert all(w.end_s - w.start_s == pytest.approx(3.0) for w in windows)
    assert windows[-1].end_s == pytest.approx(total)
    assert windows[-2].end_s < total  # the extra window covers the tail
    checked = {"a": 0, "b": 0}
    for w in windows:
        assert isinstance(w, VoiceWindow)
        assert 0.0 <= w.speech_s <= 3.0 + 1e-9
        if w.embedding is None:
            continue
        to_a, to_b = float(w.embedding @ ref_a), float(w.embedding @ ref_b)
        if w.end_s <= boundary:
            assert to_a > to_b, w
            checked["a"] += 1
        elif w.start_s >= boundary:
            assert to_b > to_a, w
            checked["b"] += 1
    assert checked["a"] >= 3 and checked["b"] >= 3


def test_windows_skip_windows_without_speech(
    engine: VoiceEngine, utterance: Callable[[str, int], Floats]
) -> None:
    speech = utterance("533", 3)[: 4 * RATE]
    clip = np.concatenate([np.zeros(5 * RATE, np.float32), speech])
    windows = engine.windows(clip, window_s=2.0, hop_s=1.0, min_speech_s=0.5)
    silent = [w for w in windows if w.end_s <= 5.0]
    assert silent and all(w.embedding is None and w.speech_s == 0.0 for w in silent)
    spoken = [w for w in windows if w.start_s >= 5.5]
    assert spoken and all(w.embedding is not None for w in spoken)


def test_windows_of_short_and_empty_clips(
    engine: VoiceEngine, utterance: Callable[[str, int], Floats]
) -> None:
    short = utterance("1998", 1)[: 2 * RATE]
    (only,) = engine.windows(short, window_s=3.0, min_speech_s=0.0)
    assert (only.start_s, only.end_s) == (0.0, 2.0)
    assert only.embedding is not None
    assert engine.windows(np.zeros(0, np.float32)) == []
    with pytest.raises(ValueError, match="positive"):
        engine.windows(short, hop_s=0.0)


def test_threads_setting_is_restored(
    utterance: Callable[[str, int], Floats],
) -> None:
    before = torch.get_num_threads()
    for threads in (1, 3):
        result = VoiceEngine(threads=threads).embed(utterance("1998", 1))
        assert isinstance(result, VoiceEmbedding)
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        VoiceEngine(threads=0)


# --- loading -------------------------------------------------------------------


def test_load_voice_decodes_to_mono_16k(voices: Path, tmp_path: Path) -> None:
    samples = load_voice(voices / REFERENCE_FILE, limits=LIMITS)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.size == 240_000  # the 15.0 s FLAC at 16 kHz
    head = load_voice(voices / REFERENCE_FILE, limits=LIMITS, max_s=2.5)
    np.testing.assert_array_equal(head, samples[:40_000])
    video = write_video(tmp_path / "clip.mp4", seconds=1.0)  # AAC audio inside
    assert 14_000 < load_voice(video, limits=LIMITS).size < 18_000


def _empty_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
    return path


def _bad_file(kind: str, tmp_path: Path, voices: Path) -> Path:
    if kind == "garbage":
        path = tmp_path / "garbage.flac"
        path.write_bytes(np.random.default_rng(0).bytes(4000))
    elif kind == "empty file":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
    elif kind == "truncated":
        path = tmp_path / "truncated.flac"
        path.write_bytes((voices / REFERENCE_FILE).read_bytes()[:60])
    elif kind == "no samples":
        path = _empty_wav(tmp_path / "silent.wav")
    elif kind == "video without audio":
        path = write_video(tmp_path / "mute.mp4", seconds=1.0, audio=False)
    elif kind == "image":
        path = write_image(tmp_path / "photo.png", "PNG")
    else:
        path = tmp_path / "missing.wav"
    return path


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "empty file",
        "truncated",
        "no samples",
        "video without audio",
        "image",
        "missing",
    ],
)
def test_load_voice_bad_input_is_one_line_error(
    kind: str, tmp_path: Path, voices: Path
) -> None:
    path = _bad_file(kind, tmp_path, voices)
    with pytest.raises(DeepguardError) as info:
        load_voice(path, limits=LIMITS)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))


def test_weights_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        VoiceEngine(weights_path=tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ConfigError) as info:
        VoiceEngine(weights_path=junk)
    assert "\n" not in str(info.value)
