"""The audio rhythm cue: synthesis, detection, rendering into files, bad input."""

from __future__ import annotations

import hashlib
import itertools
import math
import shutil
import subprocess
import wave
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from deepguard.config import Limits
from deepguard.errors import (
    ConfigError,
    CorruptMedia,
    DeepguardError,
    DependencyError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.explicit.audio_cue import (
    AudioCueStatus,
    CueHit,
    CuePosition,
    RhythmCue,
    detect_cue,
    detect_cue_in_file,
    synthesize_cue,
)
from deepguard.labels.explicit.render_audio import (
    DEFAULT_NOTICE,
    count_notice_characters,
    notice_has_both_elements,
    render_audio_label,
    synthesize_notice,
)
from media_factory import chords, write_audio, write_image, write_video

SR = 16_000
Signal = npt.NDArray[np.float64]
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)

MORSE = {
    "A": ".-", "B": "-...", "C": "-.-.", "D": "-..", "E": ".", "F": "..-.",
    "G": "--.", "H": "....", "I": "..", "J": ".---", "K": "-.-", "L": ".-..",
    "M": "--", "N": "-.", "O": "---", "P": ".--.", "Q": "--.-", "R": ".-.",
    "S": "...", "T": "-", "U": "..-", "V": "...-", "W": ".--", "X": "-..-",
    "Y": "-.--", "Z": "--..", "1": ".----", "2": "..---", "5": ".....",
}  # fmt: skip


# --- signal helpers ------------------------------------------------------------


def rms(x: npt.NDArray[np.floating[Any]]) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def mix_cue(programme: Signal, at_s: float, snr_db: float, rate: int = SR) -> Signal:
    """``programme`` with the cue added at ``at_s``, ``snr_db`` relative to it.

    The level compares the RMS of the cue's tones with the programme's RMS.
    """
    cue = synthesize_cue(rate).astype(np.float64)
    gain = rms(programme) * 10 ** (snr_db / 20) / rms(cue[cue != 0])
    start = round(at_s * rate)
    out = np.pad(programme, (0, max(0, start + cue.size - programme.size)))
    out[start : start + cue.size] += gain * cue
    return out / max(1.0, float(np.abs(out).max()))


def morse(text: str, unit_s: float, freq: float = 1000.0, rate: int = SR) -> Signal:
    """Keyed Morse at ``unit_s``: 1-unit element gaps, 3-unit letter gaps."""
    parts: list[Signal] = [np.zeros(round(5 * unit_s * rate))]
    ramp = round(0.008 * rate)
    for li, letter in enumerate(text.replace(" ", "")):
        if li:
            parts.append(np.zeros(round(3 * unit_s * rate)))
        for ei, element in enumerate(MORSE[letter]):
            if ei:
                parts.append(np.zeros(round(unit_s * rate)))
            n = round((1 if element == "." else 3) * unit_s * rate)
            env = np.ones(n)
            env[:ramp] = np.linspace(0, 1, ramp)
            env[-ramp:] = np.linspace(1, 0, ramp)
            parts.append(0.5 * env * np.sin(2 * math.pi * freq * np.arange(n) / rate))
    parts.append(np.zeros(round(5 * unit_s * rate)))
    return np.concatenate(parts)


def decode_mono(path: Path, rate: int = SR) -> Signal:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        parts = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    signal: Signal = np.concatenate(parts).astype(np.float64)
    return signal


def write_signal(
    path: Path,
    signal: Signal,
    *,
    rate: int = SR,
    codec: str = "pcm_s16le",
    fmt: str | None = None,
    channels: int = 1,
) -> Path:
    """Encode a mono signal (copied to every channel) with PyAV."""
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as out:
        stream: Any = out.add_stream(codec, rate=rate)
        stream.layout = layout
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "-2"}
        data = np.tile(signal.astype(np.float32), (channels, 1))
        resampler = av.AudioResampler(
            format=stream.format.name, layout=layout, rate=rate
        )
        for start in range(0, data.shape[1], 1024):
            block = np.ascontiguousarray(data[:, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = rate
            for converted in resampler.resample(frame):
                converted.pts = start
                converted.time_base = Fraction(1, rate)
                for packet in stream.encode(converted):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def espeak_speech(text: str, voice: str, tmp: Path) -> Signal:
    wav = tmp / f"speech-{voice}-{hashlib.sha1(text.encode()).hexdigest()[:8]}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    return decode_mono(wav)


def librispeech(shared: Path, count: int) -> list[Path]:
    """``count`` utterances, one speaker after another (round robin)."""
    root = shared / "voices" / "librispeech_test-other"
    per_speaker = [sorted(p.glob("*.flac")) for p in sorted(root.iterdir())]
    files = [f for group in itertools.zip_longest(*per_speaker) for f in group if f]
    assert len(files) >= count, "the LibriSpeech set is smaller than expected"
    return files[:count]


def starts(hits: Sequence[CueHit]) -> list[float]:
    return [round(h.start_s, 2) for h in hits]


# --- the cue -------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_cue_has_the_morse_proportions(rate: int) -> None:
    cue = RhythmCue()
    samples = synthesize_cue(rate)
    assert samples.dtype == np.float32
    assert samples.size == round(0.9 * rate)
    assert abs(float(np.abs(samples).max()) - cue.amplitude) < 0.01
    # Ramps: the first and last samples of every tone are (near) silent.
    assert abs(float(samples[0])) < 0.01 and abs(float(samples[-1])) < 0.05
    spans = cue.tone_spans()
    assert [(round(a, 6), round(b, 6)) for a, b in spans] == [
        (0.0, 0.1),
        (0.2, 0.5),
        (0.6, 0.7),
        (0.8, 0.9),
    ]
    for (a, b), (next_a, _) in zip(spans, [*spans[1:], (0.9, 0.9)], strict=True):
        middle = samples[round((a + 0.01) * rate) : round((b - 0.01) * rate)]
        assert rms(middle) == pytest.approx(cue.amplitude / math.sqrt(2), rel=0.02)
        assert not samples[round(b * rate) : round(next_a * rate)].any()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frequency_hz": 50.0},
        {"frequency_hz": 6000.0},
        {"unit_s": 0.01},
        {"amplitude": 0.0},
        {"amplitude": 1.5},
        {"ramp_s": 0.05},
    ],
)
def test_cue_settings_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RhythmCue(**kwargs)


def test_cue_needs_a_sample_rate_above_its_tone() -> None:
    with pytest.raises(ConfigError, match="too low"):
        RhythmCue(frequency_hz=3000).synthesize(4000)


# --- detection on arrays ---------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
def test_cue_found_with_its_timestamps(rate: int) -> None:
    signal = np.zeros(4 * rate)
    cue = synthesize_cue(rate)
    at = round(1.37 * rate)
    signal[at : at + cue.size] = cue
    hits = detect_cue(signal, rate)
    assert len(hits) == 1
    hit = hits[0]
    assert hit.start_s == pytest.approx(1.37, abs=0.015)
    assert hit.end_s == pytest.approx(2.27, abs=0.015)
    assert hit.unit_s == pytest.approx(0.1, abs=0.005)
    assert hit.frequency_hz == pytest.approx(1000, abs=10)
    assert hit.confidence > 0.9
    assert not hit.letter_gap


def test_stereo_input_is_downmixed() -> None:
    signal = np.zeros(3 * SR)
    cue = synthesize_cue(SR)
    signal[SR : SR + cue.size] = cue
    assert starts(detect_cue(np.stack([signal, signal]), SR)) == [1.0]
    assert starts(detect_cue(np.stack([signal, signal], axis=1), SR)) == [1.0]


def test_many_cues_across_block_edges() -> None:
    # 75 s crosses the detector's internal blocks: every cue is found once.
    signal = np.random.default_rng(3).normal(0, 0.02, 75 * SR)
    cue = synthesize_cue(SR)
    places = [0.05, 12.0, 25.6, 27.2, 28.8, 30.4, 52.7, 73.9]
    for at in places:
        signal[round(at * SR) : round(at * SR) + cue.size] += cue
    assert starts(detect_cue(signal, SR)) == pytest.approx(places, abs=0.02)


@pytest.mark.parametrize(
    ("unit", "freq"),
    [(0.087, 1000.0), (0.115, 1000.0), (0.087, 1150.0), (0.115, 870.0)],
)
def test_time_stretch_and_speed_change_within_15_percent(
    unit: float, freq: float
) -> None:
    cue = RhythmCue(frequency_hz=freq, unit_s=unit).synthesize(SR)
    signal = np.zeros(3 * SR)
    signal[SR // 2 : SR // 2 + cue.size] = cue
    [hit] = detect_cue(signal, SR)
    assert hit.unit_s == pytest.approx(unit, rel=0.03)
    assert hit.frequency_hz == pytest.approx(freq, rel=0.02)


@pytest.mark.parametrize("unit", [0.05, 0.16])
def test_other_tempos_are_not_the_cue(unit: float) -> None:
    cue = RhythmCue(unit_s=unit).synthesize(SR)
    signal = np.zeros(4 * SR)
    signal[SR // 2 : SR // 2 + cue.size] = cue
    assert detect_cue(signal, SR) == []
    # ... unless the caller says that is the cue they render.
    assert len(detect_cue(signal, SR, cue=RhythmCue(unit_s=unit))) == 1


def test_other_frequencies_need_asking_for() -> None:
    cue = RhythmCue(frequency_hz=2500).synthesize(SR)
    signal = np.zeros(3 * SR)
    signal[SR : SR + cue.size] = cue
    assert detect_cue(signal, SR) == []
    [hit] = detect_cue(signal, SR, frequencies=[1000, 2500])
    assert hit.frequency_hz == pytest.approx(2500, abs=15)


def test_morse_ai_with_a_letter_gap_is_found() -> None:
    [hit] = detect_cue(morse("AI", 0.1), SR)
    assert hit.letter_gap
    assert hit.end_s - hit.start_s == pytest.approx(1.1, abs=0.02)


@pytest.mark.parametrize("snr_db", [0.0, -6.0])
def test_found_under_white_noise(snr_db: float) -> None:
    noise = np.random.default_rng(7).normal(0, 0.1, 6 * SR)
    [hit] = detect_cue(mix_cue(noise, 2.2, snr_db), SR)
    assert hit.start_s == pytest.approx(2.2, abs=0.02)


def test_found_under_music_at_minus_6_db() -> None:
    # A note that sits on the cue's frequency right next to it can mask a
    # tone, so a rare miss is allowed; a false or misplaced hit is not.
    found = 0
    for seed in range(8):
        at = 1.0 + 0.8 * seed
        hits = detect_cue(mix_cue(chords(10.0, seed), at, -6.0), SR)
        assert len(hits) <= 1, seed
        found += starts(hits) == pytest.approx([at], abs=0.02)
    assert found >= 7


@needs_espeak
@pytest.mark.parametrize(
    ("voice", "text"),
    [
        ("en", "Please listen carefully, as our menu options have recently changed."),
        (
            "zh",
            "欢迎收听新闻联播。今天的主要内容有：国家发展改革委员会召开新闻发布会。",
        ),
    ],
)
def test_found_under_espeak_speech(voice: str, text: str, tmp_path: Path) -> None:
    speech = espeak_speech(text, voice, tmp_path)
    duration = speech.size / SR
    for snr_db in (0.0, -6.0):
        for at in (0.2 * duration, 0.5 * duration):
            hits = detect_cue(mix_cue(speech, at, snr_db), SR)
            assert starts(hits) == pytest.approx([at], abs=0.02), (snr_db, at)


@pytest.mark.shared_data
def test_found_under_librispeech_at_minus_6_db(shared_data: Path) -> None:
    found = 0
    files = librispeech(shared_data, 10)
    for i, path in enumerate(files):
        speech = decode_mono(path)
        at = (0.15 + 0.07 * i) * speech.size / SR
        hits = detect_cue(mix_cue(speech, at, -6.0), SR)
        assert len(hits) <= 1, path.name  # never a second, false hit
        found += starts(hits) == pytest.approx([at], abs=0.02)
    assert found >= 9


@pytest.mark.shared_data
def test_no_false_positive_on_librispeech(shared_data: Path) -> None:
    for path in librispeech(shared_data, 10):
        assert detect_cue(decode_mono(path), SR, min_confidence=0.0) == [], path.name


@needs_espeak
def test_no_false_positive_on_espeak_speech(tmp_path: Path) -> None:
    texts = {
        "en": "In the beginning the universe was created. This made many people "
        "very angry and has been widely regarded as a bad move.",
        "zh": "本内容由人工智能生成。今天天气很好，我们一起去公园散步吧。",
    }
    for voice, text in texts.items():
        for speed in ("120", "175", "260"):
            wav = tmp_path / f"{voice}{speed}.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", speed, "-w", str(wav), text],
                check=True,
            )
            assert detect_cue(decode_mono(wav), SR, min_confidence=0.0) == []


def test_no_false_positive_on_music_tones_and_noise() -> None:
    t = np.arange(10 * SR) / SR
    rng = np.random.default_rng(0)
    signals: dict[str, Signal] = {
        "tone 1 kHz": 0.5 * np.sin(2 * math.pi * 1000 * t),
        "tone 987 Hz": 0.5 * np.sin(2 * math.pi * 987.77 * t),
        "sweep": 0.5 * np.sin(2 * math.pi * (500 * t + 50 * t**2)),
        "white noise": rng.normal(0, 0.2, t.size),
        "brown noise": np.cumsum(rng.normal(0, 0.002, t.size)),
        "even beeps": 0.5 * np.sin(2 * math.pi * 1000 * t) * ((t * 4) % 1 < 0.3),
        "tremolo": 0.5 * np.sin(2 * math.pi * 1000 * t) * (1 + np.sin(6 * math.pi * t)),
        "silence": np.zeros(t.size),
    }
    signals |= {f"music {seed}": chords(20.0, seed) for seed in range(5)}
    for name, signal in signals.items():
        assert detect_cue(signal, SR, min_confidence=0.0) == [], name


@pytest.mark.parametrize("unit", [0.06, 0.08, 0.1, 0.12])
def test_no_false_positive_on_other_morse_letters(unit: float) -> None:
    # "L" (· − · ·) is the cue's very rhythm, so it is the one letter left out.
    for letter in MORSE.keys() - {"L"}:
        assert detect_cue(morse(letter, unit), SR, min_confidence=0.0) == [], letter
    # Sequences around the pattern: "RE" (· − ·   ·), "AS" and "AU" (a fifth
    # element right after "AI"'s four), and words.
    for text in ("RE", "AS", "AU", "AH", "SOS", "PARIS", "FRAME", "QUICK"):
        assert detect_cue(morse(text, unit), SR, min_confidence=0.0) == [], text


def test_detect_checks_its_arguments() -> None:
    with pytest.raises(ConfigError):
        detect_cue(np.zeros((2, 2, 2)), SR)
    with pytest.raises(ConfigError):
        detect_cue(np.zeros(100), 2000)
    with pytest.raises(ConfigError):
        detect_cue(np.zeros(100), SR, frequencies=[50.0])
    assert detect_cue(np.zeros(10), SR) == []
    assert detect_cue(np.full(SR, np.nan), SR) == []


# --- files ---------------------------------------------------------------------


def test_file_positions_start_middle_end(tmp_path: Path) -> None:
    signal = chords(30.0, 11) * 0.3
    cue = synthesize_cue(SR)
    for at in (0.5, 14.0, 28.6):
        signal[round(at * SR) : round(at * SR) + cue.size] += cue
    path = write_signal(tmp_path / "a.flac", signal, codec="flac")
    report = detect_cue_in_file(path, Limits())
    assert report.status is AudioCueStatus.COMPLIANT
    assert report.duration_s == pytest.approx(30.0, abs=0.05)
    assert [(round(h.hit.start_s, 1), h.position) for h in report.hits] == [
        (0.5, CuePosition.START),
        (14.0, CuePosition.MIDDLE),
        (28.6, CuePosition.END),
    ]
    assert report.positions == set(CuePosition)


def test_file_without_cue_is_absent(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "tone.wav", seconds=3.0)
    report = detect_cue_in_file(path)
    assert report.status is AudioCueStatus.ABSENT
    assert report.hits == () and report.positions == frozenset()


FORMATS: dict[str, tuple[str, int, str | None]] = {
    # extension: (encoder, sample rate, muxer)
    "wav": ("pcm_s16le", 44100, None),
    "flac": ("flac", 48000, None),
    "mp3": ("libmp3lame", 44100, None),
    "m4a": ("aac", 44100, "ipod"),
    "opus": ("libopus", 48000, "ogg"),
}


@pytest.mark.parametrize("ext", list(FORMATS))
@pytest.mark.parametrize("channels", [1, 2])
def test_render_and_detect_each_format(ext: str, channels: int, tmp_path: Path) -> None:
    codec, rate, fmt = FORMATS[ext]
    programme = chords(4.0, 5, rate) * 0.5
    src = write_signal(
        tmp_path / f"in.{ext}", programme, rate=rate, codec=codec, fmt=fmt,
        channels=channels,
    )  # fmt: skip
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / f"out.{ext}"
    result = render_audio_label(src, dst, at=("start", "end"))
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    assert result.codec == codec
    assert (result.sample_rate, result.channels) == (rate, channels)
    assert result.notes == ()
    with av.open(str(dst)) as out:
        stream = out.streams.audio[0]
        assert stream.codec_context.name in {codec, "mp3float", "opus"}
        assert (stream.rate, stream.codec_context.channels) == (rate, channels)
    # Inserted: start pad + cue + pad, programme, pad + cue + pad.
    assert result.duration_s == pytest.approx(4.0 + 2 * 1.5, abs=0.06)
    report = detect_cue_in_file(dst)
    found = [h.hit.start_s for h in report.hits]
    assert found == pytest.approx(list(result.cue_starts_s), abs=0.03)
    assert [h.position for h in report.hits] == [CuePosition.START, CuePosition.END]


def test_overlay_keeps_the_duration_and_ducks(tmp_path: Path) -> None:
    programme = chords(12.0, 2) * 0.9
    src = write_signal(tmp_path / "in.wav", programme)
    dst = tmp_path / "out.wav"
    result = render_audio_label(
        src, dst, at=("start", "middle", "end"), mode="overlay", duck_db=12.0
    )
    assert result.duration_s == pytest.approx(12.0, abs=0.01)
    out = decode_mono(dst)
    assert out.size == programme.size
    assert float(np.abs(out).max()) <= 1.0
    report = detect_cue_in_file(dst)
    assert [h.hit.start_s for h in report.hits] == pytest.approx(
        list(result.cue_starts_s), abs=0.03
    )
    assert [h.position for h in report.hits] == list(CuePosition)
    # Ducked programme in the padding before the first cue, untouched after.
    pad = slice(round(0.05 * SR), round(0.25 * SR))
    assert rms(out[pad]) == pytest.approx(rms(programme[pad]) / 4, rel=0.1)
    late = slice(round(3.0 * SR), round(4.0 * SR))
    ref = programme[late] * 32767 // 1 / 32767
    assert np.allclose(out[late], ref, atol=2e-4)


def test_insert_in_the_middle_fades_the_splice(tmp_path: Path) -> None:
    programme = 0.5 * np.sin(2 * math.pi * 300 * np.arange(20 * SR) / SR)
    src = write_signal(tmp_path / "in.wav", programme)
    result = render_audio_label(src, tmp_path / "out.wav", at="middle")
    assert result.cue_starts_s == pytest.approx((10.3,), abs=0.001)
    out = decode_mono(tmp_path / "out.wav")
    assert out.size == programme.size + round(1.5 * SR)
    # The programme fades to silence at the splice instead of cutting off.
    assert abs(out[10 * SR - 1]) < 0.01
    assert abs(out[10 * SR + round(1.5 * SR)]) < 0.01
    report = detect_cue_in_file(tmp_path / "out.wav")
    assert [h.position for h in report.hits] == [CuePosition.MIDDLE]


def test_insert_at_every_position(tmp_path: Path) -> None:
    src = write_signal(tmp_path / "in.mp3", chords(16.0, 9) * 0.5, codec="libmp3lame")
    result = render_audio_label(
        src, tmp_path / "out.mp3", at=("end", "start", "middle")
    )
    assert result.duration_s == pytest.approx(16.0 + 3 * 1.5, abs=0.1)
    assert result.cue_starts_s == pytest.approx((0.3, 1.5 + 8.0 + 0.3, 19.3), abs=0.1)
    report = detect_cue_in_file(result.path)
    assert [h.hit.start_s for h in report.hits] == pytest.approx(
        list(result.cue_starts_s), abs=0.03
    )
    assert [h.position for h in report.hits] == list(CuePosition)


def test_render_into_a_short_clip_by_overlay(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "in.wav", seconds=0.5, rate=22050)
    result = render_audio_label(src, tmp_path / "out.wav", mode="overlay")
    # The block (1.5 s) finishes over silence past the programme's end.
    assert result.duration_s == pytest.approx(1.5, abs=0.01)
    assert detect_cue_in_file(result.path).status is AudioCueStatus.COMPLIANT


def test_vorbis_falls_back_with_a_note(tmp_path: Path) -> None:
    src = write_signal(
        tmp_path / "in.ogg", chords(3.0, 1, 44100), rate=44100, codec="vorbis",
        fmt="ogg", channels=2,
    )  # fmt: skip
    result = render_audio_label(src, tmp_path / "out.ogg", at="end")
    if result.codec == "libvorbis":
        assert result.notes == ()
    else:
        assert result.codec == "libopus"
        assert any("libvorbis" in note for note in result.notes)
    assert detect_cue_in_file(result.path).status is AudioCueStatus.COMPLIANT


def test_render_refuses_video_and_images(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", seconds=1.0)
    with pytest.raises(UnsupportedFormat, match="video"):
        render_audio_label(video, tmp_path / "out.mp4")
    image = write_image(tmp_path / "i.png", "PNG")
    with pytest.raises(UnsupportedFormat, match="not audio"):
        render_audio_label(image, tmp_path / "out.png")
    with pytest.raises(UnsupportedFormat, match="not audio"):
        detect_cue_in_file(image)
    assert not (tmp_path / "out.mp4").exists()


def test_render_checks_its_arguments(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "in.wav")
    for kwargs in (
        {"at": ()},
        {"at": ("start", "start")},
        {"at": ("beginning",)},
        {"mode": "replace"},
        {"duck_db": -3.0},
    ):
        with pytest.raises(ConfigError):
            render_audio_label(src, tmp_path / "out.wav", **kwargs)
    assert not (tmp_path / "out.wav").exists()


def test_limits_apply(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "in.wav", seconds=3.0)
    tight = Limits(max_duration_s=1.0)
    with pytest.raises(MediaLimitExceeded):
        render_audio_label(src, tmp_path / "out.wav", limits=tight)
    with pytest.raises(MediaLimitExceeded):
        detect_cue_in_file(src, tight)
    with pytest.raises(MediaLimitExceeded):
        detect_cue_in_file(src, Limits(max_file_bytes=100))


def _garbage(tmp: Path) -> Path:
    path = tmp / "garbage.wav"
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.mp3"
    path.write_bytes(b"")
    return path


def _cut_header(tmp: Path) -> Path:
    full = write_audio(tmp / "full.wav", seconds=1.0).read_bytes()
    path = tmp / "cut.wav"
    path.write_bytes(full[:30])
    return path


def _fake_flac(tmp: Path) -> Path:
    path = tmp / "fake.flac"
    path.write_bytes(b"fLaC" + np.random.default_rng(2).bytes(300))
    return path


def _fake_id3(tmp: Path) -> Path:
    path = tmp / "fake.mp3"
    path.write_bytes(b"ID3" + np.random.default_rng(3).bytes(3000))
    return path


def _missing(tmp: Path) -> Path:
    return tmp / "missing.wav"


@pytest.mark.parametrize(
    "make", [_garbage, _empty, _cut_header, _fake_flac, _fake_id3, _missing]
)
def test_bad_audio_gives_a_clear_error(
    make: Callable[[Path], Path], tmp_path: Path
) -> None:
    path = make(tmp_path)
    with pytest.raises(DeepguardError) as detect_err:
        detect_cue_in_file(path)
    with pytest.raises(DeepguardError) as render_err:
        render_audio_label(path, tmp_path / "out.wav")
    for err in (detect_err.value, render_err.value):
        assert str(err).startswith(str(path)) and "\n" not in str(err)
        assert not isinstance(err, (ConfigError, DependencyError))
    assert not (tmp_path / "out.wav").exists()


def test_many_channels(tmp_path: Path) -> None:
    cue = np.zeros(3 * SR)
    cue[SR : SR + round(0.9 * SR)] = synthesize_cue(SR)
    for channels in (6, 16):
        path = tmp_path / f"ch{channels}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(SR)
            pcm = np.repeat((cue * 20000).astype("<i2"), channels)
            out.writeframes(pcm.tobytes())
        assert detect_cue_in_file(path).status is AudioCueStatus.COMPLIANT
        dst = tmp_path / f"out{channels}.wav"
        if channels <= 8:
            assert render_audio_label(path, dst).channels == channels
        else:
            with pytest.raises(UnsupportedFormat, match="channels"):
                render_audio_label(path, dst)


def test_sample_rate_too_low_for_the_cue(tmp_path: Path) -> None:
    path = tmp_path / "low.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(2000)
        out.writeframes(bytes(4000))
    with pytest.raises(UnsupportedFormat, match="too low"):
        render_audio_label(path, tmp_path / "out.wav")
    assert detect_cue_in_file(path).status is AudioCueStatus.ABSENT


def test_truncated_mp3_renders_what_is_there(tmp_path: Path) -> None:
    full = write_audio(tmp_path / "full.mp3", seconds=3.0, codec="libmp3lame")
    data = full.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 3])
    result = render_audio_label(cut, tmp_path / "out.mp3")
    assert 0.5 < result.duration_s - 1.5 < 1.5
    assert detect_cue_in_file(result.path).status is AudioCueStatus.COMPLIANT


def test_file_with_no_samples_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "none.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SR)
    with pytest.raises(CorruptMedia):
        detect_cue_in_file(path)
    with pytest.raises(CorruptMedia):
        render_audio_label(path, tmp_path / "out.wav")


# --- the spoken notice -----------------------------------------------------------


def test_notice_rate_units_and_elements() -> None:
    assert count_notice_characters(DEFAULT_NOTICE) == 10
    assert count_notice_characters("本内容由AI生成。") == 7
    assert count_notice_characters("This content is AI-generated.") == 5
    assert notice_has_both_elements(DEFAULT_NOTICE)
    assert notice_has_both_elements("本内容由AI合成")
    assert notice_has_both_elements("This content is AI-generated.")
    assert not notice_has_both_elements("本内容由人工智能提供")
    assert not notice_has_both_elements("本内容不是人工智能生成")
    assert not notice_has_both_elements("Made with AI")


@needs_espeak
@pytest.mark.parametrize(
    "text", [DEFAULT_NOTICE, "本内容由人工智能合成，请注意甄别。", "本内容由AI生成"]
)
def test_spoken_notice_rate_is_within_120_to_160(text: str) -> None:
    notice = synthesize_notice(text, SR)
    assert 120 <= notice.rate_cpm <= 160
    # Measured independently: voiced 10 ms frames, first to last.
    frames = notice.samples[: notice.samples.size // 160 * 160].reshape(-1, 160)
    voiced = np.nonzero(np.abs(frames).max(axis=1) > 0.02)[0]
    seconds = (voiced[-1] - voiced[0] + 1) * 0.01
    assert 120 <= count_notice_characters(text) * 60 / seconds <= 160


@needs_espeak
def test_render_with_spoken_notice(tmp_path: Path) -> None:
    src = write_signal(tmp_path / "in.flac", chords(3.0, 4) * 0.5, codec="flac")
    result = render_audio_label(src, tmp_path / "out.flac", spoken=DEFAULT_NOTICE)
    assert result.spoken_compliant is True
    assert result.spoken_rate_cpm is not None
    assert 120 <= result.spoken_rate_cpm <= 160
    out = decode_mono(result.path)
    # pad, cue, pad, speech, pad, then the programme.
    block_s = result.duration_s - 3.0
    assert 1.5 + 60 * 10 / 160 < block_s < 1.5 + 60 * 10 / 120 + 1.0
    speech = out[round(1.5 * SR) : round(block_s * SR)]
    assert rms(speech) > 0.01
    report = detect_cue_in_file(result.path)
    assert [h.hit.start_s for h in report.hits] == pytest.approx([0.3], abs=0.03)


def test_spoken_notice_without_espeak_is_a_dependency_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    src = write_audio(tmp_path / "in.wav")
    with pytest.raises(DependencyError, match="espeak-ng"):
        render_audio_label(src, tmp_path / "out.wav", spoken=DEFAULT_NOTICE)
    assert not (tmp_path / "out.wav").exists()
    # The cue alone needs no speech synthesis.
    render_audio_label(src, tmp_path / "out.wav")
