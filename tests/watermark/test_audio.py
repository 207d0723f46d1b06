"""The audio mark: round trips, codecs, fragments, false positives, bad input, files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from deepguard.errors import CannotCarryMark, DeepguardError, UnsupportedFormat
from deepguard.watermark._audio_dsp import resample
from deepguard.watermark.audio import AudioWatermarker
from deepguard.watermark.base import Status, WatermarkKey
from deepguard.watermark.payload import Payload
from media_factory import chords, encode_samples, swr, through_codec, write_video

Samples = npt.NDArray[np.float32]
PAYLOAD = Payload.for_content("001191440300708461136T1XGW3", "audio-test-1")
MUSIC_RATE = 44_100
SPEECH_RATE = 16_000


# --- signals and attacks ----------------------------------------------------------


def music(seconds: float, seed: int, rate: int = MUSIC_RATE) -> Samples:
    """Stereo chords: two voices panned differently."""
    left = chords(seconds, seed, rate=rate)
    right = chords(seconds, seed + 1000, rate=rate)
    return np.stack(
        [0.7 * left + 0.3 * right, 0.3 * left + 0.7 * right], axis=1
    ).astype(np.float32)


def read_mono(path: Path, rate: int) -> Samples:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        parts = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
        parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32)


def librispeech(shared_data: Path, speaker: int, seconds: float) -> Samples:
    """One speaker's utterances back to back, mono 16 kHz, ``(n, 1)``."""
    root = shared_data / "voices" / "librispeech_test-other"
    speakers = sorted(p for p in root.iterdir() if p.is_dir())
    parts: list[Samples] = []
    for flac in sorted(speakers[speaker % len(speakers)].glob("*.flac")):
        parts.append(read_mono(flac, SPEECH_RATE))
        if sum(p.size for p in parts) >= seconds * SPEECH_RATE:
            break
    return np.concatenate(parts)[: round(seconds * SPEECH_RATE), None]


def write_file(
    path: Path,
    x: Samples,
    rate: int,
    codec: str,
    fmt: str,
    *,
    codec_rate: int | None = None,
    bit_rate: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    layout = "stereo" if x.shape[1] == 2 else "mono"
    with av.open(str(path), "w", format=fmt) as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream(codec, rate=codec_rate or rate)
        stream.layout = layout
        if bit_rate:
            stream.bit_rate = bit_rate
        out.start_encoding()
        encode_samples(out, stream, x, rate, layout)
    return path


def white_noise(x: Samples, snr_db: float, seed: int = 0) -> Samples:
    power = float(np.mean(x.astype(np.float64) ** 2))
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    return (x + noise * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def fragments(x: Samples, rate: int, count: int, seed: int) -> list[Samples]:
    """``count`` 5-second fragments at random offsets (any sample)."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, x.shape[0] - 5 * rate, size=count)
    return [x[s : s + 5 * rate] for s in starts]


def found(detection: Any) -> bool:
    return bool(
        detection.present
        and detection.payload is not None
        and detection.payload.matches(PAYLOAD)
    )


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wm() -> AudioWatermarker:
    return AudioWatermarker()


@pytest.fixture(scope="module")
def song() -> Samples:
    return music(14.0, seed=3)


@pytest.fixture(scope="module")
def marked_song(wm: AudioWatermarker, song: Samples) -> Samples:
    return wm.embed(song, MUSIC_RATE, PAYLOAD)


@pytest.fixture(scope="module")
def speech(shared_data: Path) -> Samples:
    return librispeech(shared_data, speaker=7, seconds=14.0)


@pytest.fixture(scope="module")
def marked_speech(wm: AudioWatermarker, speech: Samples) -> Samples:
    return wm.embed(speech, SPEECH_RATE, PAYLOAD)


# --- round trip and inaudibility -----------------------------------------------------


def test_round_trip_music(
    wm: AudioWatermarker, song: Samples, marked_song: Samples
) -> None:
    assert marked_song.shape == song.shape
    assert marked_song.dtype == np.float32
    assert np.abs(marked_song).max() <= 1.0
    detection = wm.detect(marked_song, MUSIC_RATE)
    assert detection.status is Status.PRESENT
    assert detection.p_value <= wm.fpr
    assert detection.payload == PAYLOAD.short()
    assert len(detection.bit_confidence) == 32
    assert min(detection.bit_confidence) > 0.9
    assert detection.method == "deepguard-audio"
    assert detection.to_dict()["payload"] == PAYLOAD.short().hex()


def test_round_trip_speech(wm: AudioWatermarker, marked_speech: Samples) -> None:
    detection = wm.detect(marked_speech, SPEECH_RATE)
    assert found(detection)
    assert detection.details["ecc_ok"]


def test_mark_is_quiet_and_follows_the_programme(
    song: Samples, marked_song: Samples
) -> None:
    """Mark-to-signal ratio under -20 dB overall and in every loud second."""
    delta = marked_song.astype(np.float64) - song
    assert (
        10 * np.log10(np.mean(delta**2) / np.mean(song.astype(np.float64) ** 2)) < -20
    )
    seconds = song.shape[0] // MUSIC_RATE
    per_second = [
        np.mean(delta[i * MUSIC_RATE : (i + 1) * MUSIC_RATE] ** 2)
        / np.mean(song[i * MUSIC_RATE : (i + 1) * MUSIC_RATE].astype(np.float64) ** 2)
        for i in range(seconds)
    ]
    assert max(10 * np.log10(r) for r in per_second) < -15


def test_quiet_passage_gets_a_quieter_mark(wm: AudioWatermarker) -> None:
    loud = music(8.0, seed=11)
    programme = np.concatenate([loud, loud * np.float32(0.01)])
    marked = wm.embed(programme, MUSIC_RATE, PAYLOAD)
    delta = marked.astype(np.float64) - programme
    half = loud.shape[0]
    ratio = np.mean(delta[half + MUSIC_RATE :] ** 2) / np.mean(
        delta[: half - MUSIC_RATE] ** 2
    )
    assert ratio < 1e-3  # the programme dropped 40 dB; so did the mark


def test_one_dimensional_input_keeps_its_shape(wm: AudioWatermarker) -> None:
    mono = music(6.0, seed=5)[:, 0]
    marked = wm.embed(mono, MUSIC_RATE, PAYLOAD)
    assert marked.shape == mono.shape
    assert found(wm.detect(marked, MUSIC_RATE))


def test_chunk_edges_are_seamless(wm: AudioWatermarker) -> None:
    """A programme longer than one processing chunk (18.4 s) reads across edges."""
    long = music(42.0, seed=21)
    marked = wm.embed(long, MUSIC_RATE, PAYLOAD)
    for edge_s in (18.432, 36.864):
        start = round((edge_s - 2.5) * MUSIC_RATE)
        assert found(wm.detect(marked[start : start + 5 * MUSIC_RATE], MUSIC_RATE))
    delta = marked.astype(np.float64) - long
    step = np.abs(np.diff(delta[:, 0]))
    edge = round(18.432 * MUSIC_RATE)
    assert step[edge - 64 : edge + 64].max() < 4 * np.percentile(step, 99.9)


def test_mark_found_past_an_unmarked_opening(wm: AudioWatermarker) -> None:
    """Long inputs are searched window by window; the mark may start late."""
    opening = music(25.0, seed=31)
    marked = wm.embed(music(8.0, seed=32), MUSIC_RATE, PAYLOAD)
    detection = wm.detect(np.concatenate([opening, marked]), MUSIC_RATE)
    assert found(detection)
    assert detection.details["window_start_s"] >= 15.0


# --- robustness ----------------------------------------------------------------------


def test_fragments_at_random_offsets(
    wm: AudioWatermarker, marked_song: Samples, marked_speech: Samples
) -> None:
    for piece in fragments(marked_song, MUSIC_RATE, 3, seed=1):
        assert found(wm.detect(piece, MUSIC_RATE))
    for piece in fragments(marked_speech, SPEECH_RATE, 3, seed=2):
        assert found(wm.detect(piece, SPEECH_RATE))


CODECS = {
    "mp3-64k": ("libmp3lame", "mp3", 64_000, None),
    "aac-64k": ("aac", "adts", 64_000, None),
    "opus-32k": ("libopus", "ogg", 32_000, 48_000),
}


@pytest.mark.parametrize("name", ["mp3-64k", "aac-64k", "opus-32k"])
def test_music_survives_codec(
    wm: AudioWatermarker, marked_song: Samples, name: str
) -> None:
    codec, fmt, bit_rate, codec_rate = CODECS[name]
    decoded = through_codec(
        marked_song, MUSIC_RATE, codec, fmt, bit_rate, codec_rate or MUSIC_RATE
    )
    for piece in fragments(decoded, MUSIC_RATE, 2, seed=3):
        assert found(wm.detect(piece, MUSIC_RATE))


@pytest.mark.parametrize("name", ["mp3-64k", "aac-64k"])
def test_speech_survives_codec(
    wm: AudioWatermarker, marked_speech: Samples, name: str
) -> None:
    codec, fmt, bit_rate, _ = CODECS[name]
    upsampled = resample(marked_speech.astype(np.float64), SPEECH_RATE, MUSIC_RATE)
    decoded = through_codec(
        upsampled.astype(np.float32), MUSIC_RATE, codec, fmt, bit_rate, MUSIC_RATE
    )
    for piece in fragments(decoded, MUSIC_RATE, 2, seed=4):
        assert found(wm.detect(piece, MUSIC_RATE))


def test_resampling_both_ways(
    wm: AudioWatermarker, marked_song: Samples, marked_speech: Samples
) -> None:
    down = swr(marked_song, MUSIC_RATE, SPEECH_RATE)
    assert found(wm.detect(down[2 * SPEECH_RATE : 8 * SPEECH_RATE], SPEECH_RATE))
    up = swr(marked_speech, SPEECH_RATE, MUSIC_RATE)
    assert found(wm.detect(up[2 * MUSIC_RATE : 8 * MUSIC_RATE], MUSIC_RATE))


def test_volume_changes(wm: AudioWatermarker, marked_song: Samples) -> None:
    piece = marked_song[MUSIC_RATE : 6 * MUSIC_RATE]
    assert found(wm.detect(piece * np.float32(0.5), MUSIC_RATE))
    assert found(wm.detect(np.clip(piece * 2, -1, 1), MUSIC_RATE))


def test_white_noise_at_20_db_on_music(
    wm: AudioWatermarker, marked_song: Samples
) -> None:
    noisy = white_noise(marked_song, 20.0)
    assert found(wm.detect(noisy[2 * MUSIC_RATE : 7 * MUSIC_RATE], MUSIC_RATE))


def test_speed_change_needs_the_speed_searched(
    wm: AudioWatermarker, marked_song: Samples
) -> None:
    fast = resample(marked_song.astype(np.float64), 1050, 1000)  # 5 % fast
    piece = fast[MUSIC_RATE : 6 * MUSIC_RATE]
    assert not wm.detect(piece, MUSIC_RATE).present
    searching = AudioWatermarker(speeds=(1.0, 1.05, 0.95))
    detection = searching.detect(piece, MUSIC_RATE)
    assert found(detection)
    assert detection.details["speed"] == 1.05


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is absent")
def test_espeak_speech_through_mp3(wm: AudioWatermarker, tmp_path: Path) -> None:
    text = (
        "The quick brown fox jumps over the lazy dog. This sentence is read by a "
        "speech synthesizer so that the mark is tested on a plain voice too."
    )
    wav = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en", "-s", "150", "-w", str(wav), text],
        check=True,
        capture_output=True,
    )
    voice = read_mono(wav, MUSIC_RATE)[:, None]
    marked = wm.embed(voice, MUSIC_RATE, PAYLOAD)
    decoded = through_codec(marked, MUSIC_RATE, "libmp3lame", "mp3", 64_000, MUSIC_RATE)
    assert found(wm.detect(decoded[: 6 * MUSIC_RATE], MUSIC_RATE))


# --- false positives and keys ------------------------------------------------------


def test_unmarked_audio_is_never_detected(
    wm: AudioWatermarker, shared_data: Path
) -> None:
    pieces: list[tuple[Samples, int]] = []
    for speaker in range(5):
        voice = librispeech(shared_data, speaker, 10.0)
        pieces += [(p, SPEECH_RATE) for p in fragments(voice, SPEECH_RATE, 2, speaker)]
    for seed in range(6):
        pieces += [
            (p, MUSIC_RATE)
            for p in fragments(music(8.0, 40 + seed), MUSIC_RATE, 2, seed)
        ]
    rng = np.random.default_rng(9)
    pieces.append(
        (
            rng.standard_normal((5 * SPEECH_RATE, 1)).astype(np.float32) * 0.1,
            SPEECH_RATE,
        )
    )
    t = np.arange(5 * SPEECH_RATE) / SPEECH_RATE
    tone = 0.3 * np.sin(2 * np.pi * 1000 * t)
    pieces.append((tone.astype(np.float32)[:, None], SPEECH_RATE))
    assert len(pieces) >= 24
    for piece, rate in pieces:
        detection = wm.detect(piece, rate)
        assert detection.status is not Status.PRESENT
        assert detection.p_value > wm.fpr
        assert detection.payload is None


def test_another_key_reads_nothing(marked_song: Samples) -> None:
    other = AudioWatermarker(WatermarkKey(b"another provider's secret"))
    detection = other.detect(marked_song[: 6 * MUSIC_RATE], MUSIC_RATE)
    assert not detection.present


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "rate", "reason"),
    [
        (np.zeros((10 * SPEECH_RATE, 1), np.float32), SPEECH_RATE, "silent"),
        (music(1.0, seed=1), MUSIC_RATE, "too short"),
        (music(6.0, seed=1), 8_000, "sample rate"),
        (np.full((6 * SPEECH_RATE, 2), np.nan, np.float32), SPEECH_RATE, "NaN"),
        (np.zeros((0, 2), np.float32), SPEECH_RATE, "no audio"),
    ],
)
def test_bad_audio_is_undetectable(
    wm: AudioWatermarker, samples: Samples, rate: int, reason: str
) -> None:
    detection = wm.detect(samples, rate)
    assert detection.status is Status.UNDETECTABLE
    assert reason in (detection.reason or "")
    assert "\n" not in (detection.reason or "")


def test_embed_refuses_what_cannot_carry_a_mark(wm: AudioWatermarker) -> None:
    cases = [
        (np.zeros((10 * SPEECH_RATE, 1), np.float32), SPEECH_RATE, "silent"),
        (music(1.5, seed=2), MUSIC_RATE, "too short"),
        (music(6.0, seed=2), 8_000, "sample rate"),
        (np.full((6 * SPEECH_RATE, 1), np.nan, np.float32), SPEECH_RATE, "NaN"),
        (np.full((10 * SPEECH_RATE, 1), 1e-3, np.float32), SPEECH_RATE, "silent"),
    ]
    for samples, rate, reason in cases:
        with pytest.raises(CannotCarryMark, match=reason) as info:
            wm.embed(samples, rate, PAYLOAD)
        assert info.value.user_error


# --- files ---------------------------------------------------------------------------


FORMATS = {
    "wav": ("pcm_s16le", "wav", None, None),
    "mp3": ("libmp3lame", "mp3", None, 128_000),
    "m4a": ("aac", "ipod", None, 128_000),
    "flac": ("flac", "flac", None, None),
    "ogg": ("libopus", "ogg", 48_000, 64_000),
}


@pytest.mark.parametrize("ext", list(FORMATS))
def test_file_round_trip_keeps_format_and_tags(
    wm: AudioWatermarker, ext: str, tmp_path: Path
) -> None:
    codec, fmt, codec_rate, bit_rate = FORMATS[ext]
    src = write_file(
        tmp_path / f"in.{ext}",
        music(7.0, seed=8),
        MUSIC_RATE,
        codec,
        fmt,
        codec_rate=codec_rate,
        bit_rate=bit_rate,
        metadata={"title": "Generated tune", "artist": "deepguard tests"},
    )
    before = src.read_bytes()
    dst = tmp_path / f"out.{ext}"
    wm.embed_file(src, dst, PAYLOAD)
    assert src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        sa, sb = a.streams.audio[0], b.streams.audio[0]
        assert b.format.name == a.format.name
        assert sb.codec_context.name == sa.codec_context.name
        assert sb.rate == sa.rate
        assert sb.codec_context.channels == sa.codec_context.channels
        tags = {**dict(b.metadata), **dict(sb.metadata)}
        assert tags.get("title") == "Generated tune"
        assert tags.get("artist") == "deepguard tests"
    assert found(wm.detect_file(dst))
    assert not wm.detect_file(src).present


def test_in_place_embed_replaces_only_on_success(
    wm: AudioWatermarker, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "a.wav", music(6.0, seed=9), MUSIC_RATE, "pcm_s16le", "wav"
    )
    wm.embed_file(path, path, PAYLOAD)
    assert found(wm.detect_file(path))
    quiet = write_file(
        tmp_path / "q.wav",
        np.zeros((6 * MUSIC_RATE, 2), np.float32),
        MUSIC_RATE,
        "pcm_s16le",
        "wav",
    )
    before = quiet.read_bytes()
    with pytest.raises(CannotCarryMark, match="silent"):
        wm.embed_file(quiet, quiet, PAYLOAD)
    assert quiet.read_bytes() == before


def test_corrupt_and_foreign_files(wm: AudioWatermarker, tmp_path: Path) -> None:
    good = write_file(
        tmp_path / "a.mp3", music(6.0, seed=4), MUSIC_RATE, "libmp3lame", "mp3"
    )
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(good.read_bytes()[:300])
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(200))
    text = tmp_path / "notes.txt"
    text.write_text("not audio at all\n")
    video = write_video(tmp_path / "v.mp4", seconds=3.0)
    for path in (broken, garbage, text, tmp_path / "missing.wav"):
        detection = wm.detect_file(path)
        assert detection.status is Status.UNDETECTABLE
        assert detection.reason and "\n" not in detection.reason
        with pytest.raises(DeepguardError):
            wm.embed_file(path, tmp_path / "out.wav", PAYLOAD)
        assert not (tmp_path / "out.wav").exists()
    with pytest.raises(UnsupportedFormat, match="video"):
        wm.embed_file(video, tmp_path / "v2.mp4", PAYLOAD)
    assert wm.detect_file(video).status is not Status.PRESENT


def test_resample_is_exact_in_band() -> None:
    t = np.arange(2 * MUSIC_RATE) / MUSIC_RATE
    tone = np.sin(2 * np.pi * 1000.0 * t)
    out = resample(tone, MUSIC_RATE, SPEECH_RATE, start=0.25)
    expect = np.sin(2 * np.pi * 1000.0 * (0.25 + np.arange(out.size)) / SPEECH_RATE)
    assert np.abs(out - expect)[2000:-2000].max() < 1e-9
