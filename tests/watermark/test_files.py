"""Watermarks through the file layer: audio files, audio tracks, third-party marks.

The channel tests (test_image, test_video, test_audio, test_thirdparty) check
each mark on arrays; these check that ``label --watermark``, ``watermark
detect`` and ``scan`` route every kind of file to the right one, and that a
misconfigured vendor model is a one-line error.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from deepguard.cli.main import main
from deepguard.config import Settings, WatermarkSettings
from deepguard.errors import ConfigError
from deepguard.media.item import MediaItem, sha256_file
from deepguard.scan.verdict import decide
from deepguard.watermark.base import Status
from deepguard.watermark.detector import WatermarkDetector
from deepguard.watermark.files import detect_file
from deepguard.watermark.thirdparty.detector import ThirdPartyDetector
from deepguard.watermark.thirdparty.sd_marks import SD_MARKS
from media_factory import chords

PRODUCER = "001191440300708461136T1XGW3"
RATE = 44_100


def write_music(path: Path, seconds: float, *, codec: str = "pcm_s16le") -> Path:
    """Stereo synthetic music in ``codec`` (WAV for PCM, MP3 for mp3)."""
    left = chords(seconds, 11, rate=RATE)
    right = chords(seconds, 12, rate=RATE)
    stereo = np.stack([0.6 * left + 0.4 * right, 0.4 * left + 0.6 * right])
    write_samples(path, stereo.astype(np.float32), codec=codec)
    return path


def write_samples(
    path: Path, planar: npt.NDArray[np.float32], *, codec: str, bit_rate: int = 0
) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=RATE, layout="stereo")
        if bit_rate:
            stream.bit_rate = bit_rate
        fmt = "s16p" if codec == "mp3" else "s16"
        pcm = np.clip(planar * 32767, -32768, 32767).astype(np.int16)
        frame_len = 1152
        for start in range(0, pcm.shape[1], frame_len):
            chunk = pcm[:, start : start + frame_len]
            data = chunk if fmt == "s16p" else chunk.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data), format=fmt, layout="stereo"
            )
            frame.sample_rate = RATE
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def decode_planar(path: Path) -> npt.NDArray[np.float32]:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        parts = [
            out.to_ndarray()
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(parts, axis=1).astype(np.float32)


def test_audio_label_watermark_survives_mp3_reupload_and_names_the_producer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(tmp_path / "home")]
    src = write_music(tmp_path / "song.wav", 12.0)
    before = sha256_file(src)
    out = tmp_path / "song.labelled.wav"
    args = ["label", str(src), "--producer-code", PRODUCER, "--produce-id", "song7"]
    assert main([*home, *args, "--watermark", "-o", str(out), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["watermark"]["kind"] == "audio"
    assert sha256_file(src) == before

    # Re-encoded to MP3 at 64 kbit/s with no tags: the metadata label is gone.
    reupload = tmp_path / "reupload.mp3"
    write_samples(reupload, decode_planar(out), codec="mp3", bit_rate=64_000)
    assert main([*home, "scan", str(reupload), "--json"]) == 0
    [result] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    verdict = result["verdict"]
    assert verdict["aigc_label"] == "1"
    assert verdict["reasons"][0].startswith("label stripped or altered")
    assert PRODUCER in verdict["reasons"][0]
    [mark] = [f for f in result["findings"] if f["kind"] == "watermark.deepguard"]
    assert mark["details"]["method"] == "deepguard-audio"
    assert mark["details"]["records"][0]["ProduceID"] == "song7"


def test_unmarked_audio_and_silence_give_no_mark(tmp_path: Path) -> None:
    plain = write_music(tmp_path / "plain.wav", 8.0)
    silent = tmp_path / "silent.wav"
    write_samples(silent, np.zeros((2, RATE * 6), np.float32), codec="pcm_s16le")
    [plain_mark] = detect_file(plain)
    assert plain_mark.status is Status.ABSENT
    [silent_mark] = detect_file(silent)
    assert silent_mark.status is Status.UNDETECTABLE
    assert silent_mark.reason


def test_a_video_reports_its_marked_audio_track(tmp_path: Path) -> None:
    marked_wav = tmp_path / "marked.wav"
    src = write_music(tmp_path / "music.wav", 10.0)
    assert (
        main(
            [
                "--home",
                str(tmp_path / "home"),
                "watermark",
                "embed",
                str(src),
                "--producer-code",
                PRODUCER,
                "--produce-id",
                "clip",
                "-o",
                str(marked_wav),
            ]
        )
        == 0
    )
    clip = tmp_path / "clip.mp4"
    samples = decode_planar(marked_wav)
    with av.open(str(clip), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 160, 128, "yuv420p"
        audio = out.add_stream("aac", rate=RATE, layout="stereo")
        audio.bit_rate = 128_000
        for i in range(100):
            rgb = np.full((128, 160, 3), (i * 2) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        for start in range(0, samples.shape[1], 1024):
            chunk = np.ascontiguousarray(samples[:, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = RATE
            frame.pts = start
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    found = {d.method: d for d in detect_file(clip)}
    assert found["deepguard-video"].status is not Status.PRESENT
    assert found["deepguard-audio"].present


# --- third-party marks in scans ---------------------------------------------------


def textured(size: int = 512, seed: int = 4) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = 120 + 50 * np.sin(xx / 29.0) * np.cos(yy / 17.0)
    rgb = np.stack([base, base * 0.7 + 40, 210 - base * 0.6], axis=-1)
    rgb += rng.normal(0, 8, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_sdxl_mark_in_a_scan_is_a_trace(tmp_path: Path, max_dct: ModuleType) -> None:
    sdxl = next(mark for mark in SD_MARKS if mark.method == "sdxl")
    encoder = max_dct.EmbedMaxDct(list(sdxl.bits), wmLen=len(sdxl.bits))
    bgr = np.ascontiguousarray(textured()[:, :, ::-1]).astype(np.float32)
    marked = np.clip(encoder.encode(bgr), 0, 255).astype(np.uint8)[:, :, ::-1]
    path = tmp_path / "sdxl.png"
    Image.fromarray(np.ascontiguousarray(marked)).save(path)

    findings = WatermarkDetector().run(MediaItem.open(path))
    [trace] = [f for f in findings if f.kind == "watermark.third_party"]
    assert trace.details["method"] == "sdxl"
    assert decide(findings).aigc_label == "3"

    plain = tmp_path / "plain.png"
    Image.fromarray(textured(seed=5)).save(plain)
    findings = WatermarkDetector().run(MediaItem.open(plain))
    assert not [f for f in findings if f.kind == "watermark.third_party"]


def test_sd_marks_can_be_switched_off(tmp_path: Path, max_dct: ModuleType) -> None:
    detector = ThirdPartyDetector.from_settings(WatermarkSettings(sd_marks=False))
    assert detector.detect_image(textured()) == []


def test_a_missing_vendor_model_is_a_one_line_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "decoder_Q.onnx"
    settings = WatermarkSettings(trustmark_model=missing)
    with pytest.raises(ConfigError) as caught:
        ThirdPartyDetector.from_settings(settings)
    message = str(caught.value)
    assert "never downloads" in message and "watermark.trustmark_model" in message
    assert "\n" not in message

    with pytest.raises(ConfigError):
        WatermarkDetector.from_settings(
            Settings(home=tmp_path / "home", watermark=settings)
        )

    config = tmp_path / "config.toml"
    config.write_text(f'[watermark]\ntrustmark_model = "{missing}"\n')
    image = tmp_path / "x.png"
    Image.fromarray(textured(256)).save(image)
    cli = ["--home", str(tmp_path / "home"), "--config", str(config)]
    code = main([*cli, "watermark", "detect", str(image)])
    err = capsys.readouterr().err
    assert code != 0
    assert "decoder_Q.onnx" in err and "Traceback" not in err
