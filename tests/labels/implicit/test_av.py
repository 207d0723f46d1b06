"""Audio and video label carriers: MP4/MOV/M4A, Matroska/WebM, FLV, AVI, WAV,
MP3, FLAC and Ogg (Vorbis, Opus, FLAC).

Every format is generated here with PyAV (and the real files in
``../shared/data/media`` are labelled too): a label is written and read
back, frames and samples decode bit-identically, relabelling leaves one
label, other tags survive, FFmpeg still reads the file cleanly, independent
readers (ffprobe, mutagen, exiftool) see the label, content digests ignore
labels but not samples, and damaged or hostile files fail with one-line
deepguard errors.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import random
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import mutagen
import mutagen.id3
import numpy as np
import pytest

from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    DeepguardError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.fields import AigcFields, LabelStatus, assess
from deepguard.labels.implicit import (
    carrier_for,
    content_digest,
    matroska,
    read_label,
    write_label,
)
from deepguard.labels.implicit.avi import AviCarrier
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.labels.implicit.flv import FlvCarrier
from deepguard.labels.implicit.matroska import MatroskaCarrier
from deepguard.labels.implicit.mp3 import Mp3Carrier
from deepguard.labels.implicit.mp4 import Mp4Carrier
from deepguard.labels.implicit.vorbis import VorbisCarrier
from deepguard.labels.implicit.wav import WavCarrier
from deepguard.media.containers import isobmff
from deepguard.media.containers._binary import Source
from deepguard.media.probe import probe
from media_factory import write_audio, write_mp4, write_video

PRODUCER = "001191440300708461136T1XGW3"
A = AigcFields(label="1", content_producer=PRODUCER, produce_id="A-0001")
B = AigcFields(
    label="2",
    content_producer=PRODUCER,
    produce_id="A-0001",
    content_propagator="001191440300708461136T2XGW3",
    propagate_id="B-0002",
)
LIMITS = Limits()
TITLE = "Kept-title"
ERRORS = (CorruptMedia, UnsupportedFormat, MediaLimitExceeded)
"""What a carrier may raise on bad input."""

CARRIERS: dict[str, Carrier] = {
    c.name: c
    for c in (
        Mp4Carrier(),
        MatroskaCarrier(),
        FlvCarrier(),
        AviCarrier(),
        WavCarrier(),
        Mp3Carrier(),
        VorbisCarrier(),
    )
}


# --- media ----------------------------------------------------------------------------


def remux(src: Path, dst: Path, fmt: str, options: dict[str, str]) -> Path:
    """Stream-copy ``src`` into ``fmt`` with muxer ``options``."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", fmt, options) as out:
        out.metadata.update(inp.metadata)
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def _video(tmp: Path, name: str, **kw: Any) -> Path:
    return write_video(tmp / name, metadata={"title": TITLE}, **kw)


def _audio(tmp: Path, name: str, **kw: Any) -> Path:
    """A one-second tone in any codec and container, with a title tag."""
    return write_audio(tmp / name, metadata={"title": TITLE}, **kw)


@dataclass(frozen=True)
class Fmt:
    """One generated format, its carrier and who else can read its label.

    ``ffprobe``: FFmpeg reports the label as a format tag (Ogg puts comments
    on the stream; WAV has no INFO entry for it). ``mutagen``: mutagen reads
    the tag. exiftool reads every format (its own test).
    """

    make: Callable[[Path], Path]
    carrier: str
    ffprobe: bool = True
    mutagen: bool = False


@dataclass(frozen=True)
class Case:
    """A generated file and how it is labelled."""

    path: Path
    name: str
    fmt: Fmt

    @property
    def carrier(self) -> str:
        return self.fmt.carrier


FORMATS: dict[str, Fmt] = {
    "mp4": Fmt(lambda t: _video(t, "v.mp4", fmt="mp4"), "mp4"),
    "mov": Fmt(lambda t: _video(t, "v.mov", fmt="mov"), "mp4"),
    "mp4-faststart": Fmt(
        lambda t: remux(
            _video(t, "s.mp4", fmt="mp4"),
            t / "v.mp4",
            "mp4",
            {"movflags": "faststart"},
        ),
        "mp4",
    ),
    "mp4-fragmented": Fmt(
        lambda t: remux(
            _video(t, "s.mp4", fmt="mp4"),
            t / "v.mp4",
            "mp4",
            {"movflags": "frag_keyframe+empty_moov"},
        ),
        "mp4",
    ),
    "m4a": Fmt(lambda t: _audio(t, "a.m4a", codec="aac", fmt="ipod"), "mp4"),
    "mkv": Fmt(lambda t: _video(t, "v.mkv", fmt="matroska"), "matroska"),
    "webm": Fmt(
        lambda t: _video(t, "v.webm", fmt="webm", codec="libvpx", audio=False),
        "matroska",
    ),
    "flv": Fmt(lambda t: _video(t, "v.flv", fmt="flv"), "flv"),
    "flv-keyframes": Fmt(
        lambda t: remux(
            _video(t, "s.flv", fmt="flv"),
            t / "v.flv",
            "flv",
            {"flvflags": "add_keyframe_index"},
        ),
        "flv",
    ),
    "avi": Fmt(lambda t: _video(t, "v.avi", fmt="avi", codec="mpeg4"), "avi"),
    "wav": Fmt(
        lambda t: _audio(t, "a.wav", codec="pcm_s16le", fmt="wav"),
        "wav",
        ffprobe=False,
    ),
    "mp3": Fmt(
        lambda t: _audio(t, "a.mp3", codec="libmp3lame", fmt="mp3"),
        "mp3",
        mutagen=True,
    ),
    "flac": Fmt(
        lambda t: _audio(t, "a.flac", codec="flac", fmt="flac"),
        "vorbis",
        mutagen=True,
    ),
    "opus": Fmt(
        lambda t: _audio(t, "a.opus", codec="libopus", fmt="ogg", rate=48000),
        "vorbis",
        ffprobe=False,
        mutagen=True,
    ),
    "ogg-vorbis": Fmt(
        lambda t: _audio(
            t, "a.ogg", codec="vorbis", fmt="ogg", rate=44100, layout="stereo"
        ),
        "vorbis",
        ffprobe=False,
        mutagen=True,
    ),
    "ogg-flac": Fmt(
        lambda t: _audio(t, "a.oga", codec="flac", fmt="ogg"),
        "vorbis",
        ffprobe=False,
        mutagen=True,
    ),
}
SHARED = {
    "legacy.mp4": "mp4",
    "video1.mp4": "mp4",
    "sample1.m4a": "mp4",
    "test.avi": "avi",
    "sample1.mp3": "mp3",
}


@pytest.fixture(params=sorted(FORMATS))
def media(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    """A generated file of each format."""
    fmt = FORMATS[request.param]
    try:
        path = fmt.make(tmp_path)
    except av.error.FFmpegError as exc:  # an encoder missing from this FFmpeg
        pytest.skip(f"cannot encode {request.param}: {exc}")
    return Case(path, request.param, fmt)


def decoded(path: Path) -> list[tuple[int, np.ndarray]]:
    """Every decoded frame of every stream, in demux order."""
    out: list[tuple[int, np.ndarray]] = []
    with av.open(str(path)) as container:
        for packet in container.demux():
            for frame in packet.decode():
                out.append((packet.stream.index, frame.to_ndarray()))
    return out


def same_frames(a: Path, b: Path) -> bool:
    left, right = decoded(a), decoded(b)
    return len(left) == len(right) and all(
        i == j and x.shape == y.shape and np.array_equal(x, y)
        for (i, x), (j, y) in zip(left, right, strict=True)
    )


def titles(path: Path) -> set[str]:
    """Every title PyAV reports, from the format or any stream."""
    with av.open(str(path)) as container:
        found = {v for k, v in container.metadata.items() if k.lower() == "title"}
        for stream in container.streams:
            found |= {v for k, v in stream.metadata.items() if k.lower() == "title"}
    return found


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def needs(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed")
    return found


def ffprobe_errors(path: Path) -> str:
    cmd = [needs("ffprobe"), "-v", "error", "-show_packets", "-show_format", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stderr


def ffprobe_tags(path: Path) -> dict[str, str]:
    cmd = [needs("ffprobe"), "-v", "quiet", "-print_format", "json", "-show_format"]
    out = subprocess.run([*cmd, str(path)], capture_output=True, text=True, check=True)
    tags: dict[str, str] = json.loads(out.stdout)["format"].get("tags", {})
    return tags


def label_json(fields: AigcFields) -> dict[str, Any]:
    return {"AIGC": fields.to_dict()}


def labelled(src: Path, fields: AigcFields = A, name: str = "") -> Path:
    dst = src.with_name(f"{name or 'labelled'}{src.suffix}")
    return write_label(src, fields, out=dst)


def read(carrier: str, path: Path, limits: Limits = LIMITS) -> CarrierRead:
    return CARRIERS[carrier].read(path, limits)


def write(carrier: str, src: Path, payload: str, name: str = "raw") -> Path:
    dst = src.with_name(f"{name}{src.suffix}")
    CARRIERS[carrier].write(src, dst, payload, LIMITS)
    return dst


# --- round trips on every format ------------------------------------------------------


def test_registry_routes_each_format_to_its_carrier(media: Case) -> None:
    assert carrier_for(probe(media.path), media.path).name == media.carrier


def test_round_trip_keeps_samples_tags_and_playability(media: Case) -> None:
    src, carrier = media.path, media.carrier
    before = sha(src)
    dst = labelled(src)
    reading = read_label(dst)
    assert reading.status is LabelStatus.COMPLIANT, reading.problems
    assert reading.fields == A
    assert reading.carrier == carrier
    assert len(reading.copies) == 1
    assert sha(src) == before, "the input must never be modified"
    assert same_frames(src, dst)
    assert titles(dst) == titles(src) == {TITLE}
    assert content_digest(dst) == content_digest(src)
    if shutil.which("ffprobe"):
        assert ffprobe_errors(dst) == ffprobe_errors(src) == ""


def test_relabelling_leaves_exactly_one_label(media: Case) -> None:
    src = media.path
    first = labelled(src)
    second = labelled(first, B, name="relabelled")
    reading = read_label(second)
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.fields == B
    assert len(reading.copies) == 1
    assert same_frames(src, second)
    assert content_digest(second) == content_digest(src)
    again = labelled(second, B, name="again")
    assert again.stat().st_size == second.stat().st_size


def test_in_place_write(media: Case) -> None:
    src = media.path
    copy = src.with_name(f"copy{src.suffix}")
    shutil.copyfile(src, copy)
    assert write_label(copy, A, in_place=True) == copy
    assert read_label(copy).fields == A
    assert same_frames(src, copy)


def test_independent_readers_see_the_label(media: Case) -> None:
    dst = labelled(media.path)
    expected = label_json(A)
    if media.fmt.ffprobe:
        assert json.loads(ffprobe_tags(dst)["AIGC"]) == expected
    if media.fmt.mutagen:
        audio = mutagen.File(str(dst))
        assert audio is not None and audio.tags is not None
        if media.carrier == "mp3":
            values = [str(v) for v in audio.tags["TXXX:AIGC"].text]
        else:
            values = list(audio.tags["AIGC"])
        assert [json.loads(v) for v in values] == [expected]
    if not (media.fmt.ffprobe or media.fmt.mutagen):
        pytest.skip("only exiftool reads a WAV AIGC chunk (see the exiftool test)")


def test_exiftool_reads_the_label(
    media: Case, exiftool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    dst = labelled(media.path)
    tags = json.loads(exiftool("-j", "-u", "-b", "-ee", "-G1", dst).stdout)[0]
    values = []
    for key, value in tags.items():
        name = key.split(":")[-1].casefold()
        text = str(value)
        if name not in ("aigc", "unknown_aigc", "userdefinedtext"):
            continue
        if text.startswith("base64:"):  # binary to exiftool: a RIFF pad byte
            text = base64.b64decode(text[7:]).rstrip(b"\x00").decode()
        if name != "userdefinedtext":
            values.append(text)
        elif text.startswith("(AIGC) "):  # ID3 TXXX: "(description) value"
            values.append(text.removeprefix("(AIGC) "))
    assert [json.loads(v) for v in values] == [label_json(A)], tags


def test_digest_ignores_labels_but_not_samples(media: Case) -> None:
    src, carrier = media.path, media.carrier
    dst = labelled(src)
    assert content_digest(dst) == content_digest(src)
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as container:
        packets = sorted((bytes(p) for p in container.demux() if p.size >= 16), key=len)
    # the largest packet stored in one piece (an Ogg packet may span pages)
    payload = next(p for p in reversed(packets) if data.find(p) > 0)
    data[data.find(payload) + len(payload) // 2] ^= 0x55
    if data[:4] == b"OggS":
        data = bytearray(with_ogg_crcs(bytes(data)))  # FFmpeg drops bad pages
    changed = src.with_name(f"changed{src.suffix}")
    changed.write_bytes(bytes(data))
    assert CARRIERS[carrier].content_digest(changed, LIMITS) != content_digest(src)


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def with_ogg_crcs(data: bytes) -> bytes:
    """``data`` with every Ogg page checksum recomputed."""
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out) and out[pos : pos + 4] == b"OggS":
        count = out[pos + 26]
        end = pos + 27 + count + sum(out[pos + 27 : pos + 27 + count])
        out[pos + 22 : pos + 26] = bytes(4)
        out[pos + 22 : pos + 26] = struct.pack("<I", _ogg_crc(bytes(out[pos:end])))
        pos = end
    return bytes(out)


def test_malformed_json_is_read_as_noncompliant(media: Case) -> None:
    src, carrier = media.path, media.carrier
    dst = write(carrier, src, '{"AIGC":{"Label":"1",')
    reading = assess(read(carrier, dst).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert "not valid JSON" in reading.problems[0]


def test_non_utf8_label_is_noncompliant(media: Case) -> None:
    src, carrier = media.path, media.carrier
    data = labelled(src).read_bytes()
    assert data.count(b"A-0001") == 1
    broken = src.with_name(f"broken{src.suffix}")
    broken.write_bytes(data.replace(b"A-0001", b"A-\xff001"))
    reading = assess(read(carrier, broken).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT


def test_label_over_one_mebibyte(media: Case) -> None:
    src, carrier = media.path, media.carrier
    huge = A.replace(produce_id="x" * (1024 * 1024 + 10)).to_json()
    dst = write(carrier, src, huge, name="huge")
    reading = assess(read(carrier, dst).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert "over the 1 MiB limit" in reading.problems[0]
    with pytest.raises(MediaLimitExceeded):
        read(carrier, dst, Limits(max_metadata_bytes=1024 * 1024))
    assert same_frames(src, dst)


def test_damaged_files_fail_cleanly(media: Case) -> None:
    """Truncations and flipped bytes: a deepguard error or a reading, fast."""
    src, carrier = media.path, media.carrier
    data = labelled(src).read_bytes()
    rng = random.Random(45438)
    variants = [data[: int(len(data) * f)] for f in (0.02, 0.1, 0.3, 0.6, 0.9)]
    variants.append(data[:-1])
    for _ in range(12):
        mutated = bytearray(data)
        for _ in range(6):
            at = rng.randrange(min(len(data), 4096))
            if rng.random() < 0.5:
                at = len(data) - 1 - at
            mutated[at] = rng.randrange(256)
        variants.append(bytes(mutated))
    impl = CARRIERS[carrier]
    for index, variant in enumerate(variants):
        path = src.with_name(f"damaged{index}{src.suffix}")
        path.write_bytes(variant)
        started = time.monotonic()
        with contextlib.suppress(*ERRORS):
            impl.read(path, LIMITS)
        out = src.with_name(f"damaged-out{index}{src.suffix}")
        try:
            impl.write(path, out, A.to_json(), LIMITS)
        except ERRORS:
            pass
        else:
            assert len(impl.read(out, LIMITS).copies) == 1
        with contextlib.suppress(DeepguardError):
            impl.content_digest(path, LIMITS)
        assert time.monotonic() - started < 20


# --- real files -----------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_media_round_trip(shared_data: Path, tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    shutil.copyfile(shared_data / "media" / name, src)
    dst = labelled(src)
    reading = read_label(dst)
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.carrier == SHARED[name]
    assert reading.fields == A
    assert same_frames(src, dst)
    assert content_digest(dst) == content_digest(src)
    relabelled = labelled(dst, B, name="relabelled")
    assert read_label(relabelled).fields == B
    assert len(read_label(relabelled).copies) == 1
    if shutil.which("ffprobe"):
        assert json.loads(ffprobe_tags(dst)["AIGC"]) == label_json(A)
        assert ffprobe_errors(dst) == ffprobe_errors(src)


@pytest.mark.shared_data
def test_shared_m4a_keeps_itunes_tags_without_moving_media(
    shared_data: Path, tmp_path: Path
) -> None:
    """sample1.m4a has a free box after moov: it takes the growth."""
    src = shared_data / "media" / "sample1.m4a"
    dst = write_label(src, A, out=tmp_path / "labelled.m4a")
    assert dst.stat().st_size == src.stat().st_size
    assert mdat_offset(dst) == mdat_offset(src)
    tags = ffprobe_tags(dst) if shutil.which("ffprobe") else {}
    if tags:
        assert tags["title"] == "sample1"
        assert "iTunSMPB" in tags


def mdat_offset(path: Path) -> int:
    with Source.open(path) as src:
        return next(
            b.offset for b in isobmff.iter_boxes(src, 0, src.size) if b.type == b"mdat"
        )


# --- labels written by other tools ----------------------------------------------------


def ffmpeg_label(src: Path, dst: Path, *args: str) -> Path:
    cmd = [needs("ffmpeg"), "-v", "error", "-y", "-i", str(src), "-c", "copy", *args]
    subprocess.run([*cmd, str(dst)], check=True, capture_output=True)
    return dst


@pytest.mark.parametrize(
    ("fmt", "extra"),
    [
        ("mp4", ("-movflags", "use_metadata_tags")),
        ("mov", ("-movflags", "use_metadata_tags")),
        ("mkv", ()),
        ("webm", ()),
        ("flv", ()),
        ("mp3", ()),
        ("flac", ()),
    ],
)
def test_reads_labels_written_by_ffmpeg(
    tmp_path: Path, fmt: str, extra: tuple[str, ...]
) -> None:
    src = FORMATS[fmt].make(tmp_path)
    dst = tmp_path / f"ffmpeg{src.suffix}"
    ffmpeg_label(src, dst, *extra, "-metadata", f"AIGC={A.to_json()}")
    reading = read_label(dst)
    assert reading.status is LabelStatus.COMPLIANT, reading
    assert reading.fields == A
    relabelled = labelled(dst, B)
    assert read_label(relabelled).fields == B
    assert len(read_label(relabelled).copies) == 1
    assert titles(relabelled) == {TITLE}


def test_reads_pyav_mdta_label(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "k.mp4", {"AIGC": A.to_json()}, handler="h", mdta=True)
    reading = read_label(path)
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.copies[0].raw.location == "moov/udta/meta keys AIGC"


# --- MP4 specifics --------------------------------------------------------------------


def box(btype: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def full(btype: bytes, payload: bytes) -> bytes:
    return box(btype, bytes(4) + payload)


def data_atom(value: bytes, kind: int = 1) -> bytes:
    return box(b"data", struct.pack(">II", kind, 0) + value)


FTYP = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
JSON_A = A.to_json().encode()
JSON_B = B.to_json().encode()


def mdta_meta(keys: list[bytes], values: list[bytes], kind: int = 1) -> bytes:
    """A QuickTime metadata box: ``keys`` and one ilst item per value."""
    hdlr = full(b"hdlr", bytes(4) + b"mdta" + bytes(13))
    entries = b"".join(struct.pack(">I", 8 + len(k)) + b"mdta" + k for k in keys)
    keys_box = full(b"keys", struct.pack(">I", len(keys)) + entries)
    items = b"".join(
        box(struct.pack(">I", i), data_atom(v, kind)) for i, v in enumerate(values, 1)
    )
    return full(b"meta", hdlr + keys_box + box(b"ilst", items))


def itunes_meta(*items: bytes) -> bytes:
    hdlr = full(b"hdlr", bytes(4) + b"mdirappl" + bytes(9))
    return full(b"meta", hdlr + box(b"ilst", b"".join(items)))


def freeform(name: bytes, value: bytes) -> bytes:
    mean = box(b"mean", bytes(4) + b"com.apple.iTunes")
    return box(b"----", mean + box(b"name", bytes(4) + name) + data_atom(value))


def movie(tmp_path: Path, udta: bytes, name: str = "m.mp4") -> Path:
    """A metadata-only movie: the carrier needs no tracks to read or write."""
    path = tmp_path / name
    path.write_bytes(FTYP + box(b"moov", box(b"udta", udta)))
    return path


def mp4_tags(path: Path) -> dict[str, str]:
    with Source.open(path) as src:
        return {
            t.key: t.value
            for t in isobmff.iter_metadata(src)
            if isinstance(t, isobmff.Tag)
        }


def test_mp4_reads_itunes_freeform_atom_and_udta_text(tmp_path: Path) -> None:
    qt_text = box(b"AIGC", struct.pack(">HH", len(JSON_B), 0x55C4) + JSON_B)
    meta = itunes_meta(
        box(b"\xa9nam", data_atom(b"Kept")),
        freeform(b"AIGC", JSON_A),
        box(b"AIGC", data_atom(JSON_B)),
    )
    path = movie(tmp_path, meta + qt_text)
    found = read("mp4", path)
    locations = [c.location for c in found.copies]
    assert locations == [
        "moov/udta/meta/ilst ----:AIGC",
        "moov/udta/meta/ilst AIGC",
        "moov/udta/AIGC",
    ]
    reading = assess(found.copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("disagree" in p for p in reading.problems)
    dst = write("mp4", path, B.to_json())
    after = read("mp4", dst)
    assert [c.location for c in after.copies] == ["moov/udta/meta keys AIGC"]
    assert mp4_tags(dst)["title"] == "Kept"


def test_mp4_duplicate_keys_are_two_copies_and_renumbered_away(
    tmp_path: Path,
) -> None:
    meta = mdta_meta(
        [b"AIGC", b"com.example.note", b"AIGC"], [JSON_A, b"note text", JSON_A]
    )
    path = movie(tmp_path, meta)
    reading = assess(read("mp4", path).copies)
    assert len(reading.copies) == 2
    assert any("2 label copies" in p for p in reading.problems)
    dst = write("mp4", path, B.to_json())
    assert len(read("mp4", dst).copies) == 1
    tags = mp4_tags(dst)
    assert tags["com.example.note"] == "note text"
    assert json.loads(tags["AIGC"]) == label_json(B)


def test_mp4_label_goes_into_existing_mdta_meta(tmp_path: Path) -> None:
    path = movie(tmp_path, mdta_meta([b"com.example.note"], [b"kept"]))
    dst = write("mp4", path, A.to_json())
    with Source.open(dst) as src:
        metas = [b for b in isobmff.walk(src) if b.type == b"meta"]
    assert len(metas) == 1
    assert mp4_tags(dst) == {"com.example.note": "kept", "AIGC": A.to_json()}


def test_mp4_utf16_value_and_largesize_box(tmp_path: Path) -> None:
    large = struct.pack(">I4sQ", 1, b"free", 24) + bytes(8)
    meta = mdta_meta([b"AIGC"], [A.to_json().encode("utf-16-be")], kind=2)
    path = tmp_path / "w.mp4"
    path.write_bytes(FTYP + large + box(b"moov", box(b"udta", meta)))
    reading = assess(read("mp4", path).copies)
    assert reading.status is LabelStatus.COMPLIANT
    dst = write("mp4", path, B.to_json())
    assert dst.read_bytes()[len(FTYP) : len(FTYP) + 24] == large
    assert assess(read("mp4", dst).copies).fields == B


def test_mp4_free_space_after_moov_absorbs_size_changes(tmp_path: Path) -> None:
    """A shrinking label leaves a free box; a growing one uses it: no shift."""
    src = FORMATS["mp4-faststart"].make(tmp_path)
    data = src.read_bytes()
    with Source.open(src) as view:
        top = list(isobmff.iter_boxes(view, 0, view.size))
    moov = next(b for b in top if b.type == b"moov")
    after_moov = next(b for b in top if b.offset == moov.end)
    if after_moov.type == b"free":  # make sure no free space is there to start with
        at = after_moov.offset + 4
        src.write_bytes(data[:at] + b"junk" + data[at + 4 :])
    big = write("mp4", src, A.replace(produce_id="x" * 4000).to_json(), name="big")
    assert mdat_offset(big) > mdat_offset(src)
    small = labelled(big, A, name="small")
    grown = labelled(small, B, name="grown")
    for path in (small, grown):
        assert path.stat().st_size == big.stat().st_size
        assert mdat_offset(path) == mdat_offset(big)
        assert same_frames(src, path)
    assert read_label(grown).fields == B


def test_mp4_moov_before_mdat_moves_chunk_offsets(tmp_path: Path) -> None:
    src = FORMATS["mp4-faststart"].make(tmp_path)
    dst = labelled(src)
    assert mdat_offset(dst) > mdat_offset(src)
    assert same_frames(src, dst)


def test_mp4_mdat_of_size_zero_runs_to_the_end(tmp_path: Path) -> None:
    src = FORMATS["mp4-faststart"].make(tmp_path)
    data = bytearray(src.read_bytes())
    at = mdat_offset(src)
    data[at : at + 4] = bytes(4)
    open_ended = tmp_path / "open.mp4"
    open_ended.write_bytes(bytes(data))
    dst = labelled(open_ended)
    assert read_label(dst).fields == A
    assert same_frames(src, dst)


def test_mp4_fragment_offsets_follow_the_moved_fragments(tmp_path: Path) -> None:
    src = FORMATS["mp4-fragmented"].make(tmp_path)
    dst = labelled(src)

    def bases(path: Path) -> list[int]:
        found = []
        with Source.open(path) as view:
            for b in isobmff.iter_boxes(view, 0, view.size):
                if b.type == b"moof":
                    found.append(b.offset)
        return found

    shift = bases(dst)[0] - bases(src)[0]
    assert shift > 0
    raw = dst.read_bytes()
    for moof in bases(dst):
        tfhd = raw.index(b"tfhd", moof)
        flags = int.from_bytes(raw[tfhd + 5 : tfhd + 8], "big")
        if flags & 1:
            base = int.from_bytes(raw[tfhd + 12 : tfhd + 20], "big")
            assert base == moof
    assert same_frames(src, dst)


def test_mp4_offset_into_moov_is_refused(tmp_path: Path) -> None:
    src = FORMATS["mp4-fragmented"].make(tmp_path)
    data = bytearray(src.read_bytes())
    tfhd = data.index(b"tfhd")
    assert int.from_bytes(data[tfhd + 5 : tfhd + 8], "big") & 1
    data[tfhd + 12 : tfhd + 20] = (len(FTYP) + 40).to_bytes(8, "big")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptMedia, match="inside the moov"):
        write("mp4", bad, A.to_json())


def test_mp4_hostile_boxes(tmp_path: Path) -> None:
    beyond = tmp_path / "beyond.mp4"
    beyond.write_bytes(FTYP + struct.pack(">I4s", 10**6, b"moov") + bytes(16))
    with pytest.raises(CorruptMedia, match="moov"):
        read("mp4", beyond)
    tiny = tmp_path / "tiny.mp4"
    tiny.write_bytes(FTYP + struct.pack(">I4s", 4, b"moov"))
    with pytest.raises(CorruptMedia):
        read("mp4", tiny)
    with pytest.raises(CorruptMedia):
        write("mp4", tiny, A.to_json())
    no_moov = tmp_path / "nomoov.mp4"
    no_moov.write_bytes(FTYP + box(b"mdat", bytes(32)))
    with pytest.raises(CorruptMedia, match="no moov"):
        read("mp4", no_moov)
    keys = full(b"keys", struct.pack(">I", 10**6))
    bad_keys = movie(tmp_path, full(b"meta", keys), name="keys.mp4")
    found = read("mp4", bad_keys)
    assert not found.copies and "keys box claims" in found.errors[0]
    assert assess(found.copies, errors=found.errors).status is LabelStatus.INCONCLUSIVE
    with pytest.raises(CorruptMedia):
        write("mp4", bad_keys, A.to_json())
    nested = box(b"udta", box(b"udta", box(b"udta", box(b"AIGC", JSON_A))))
    deep = movie(tmp_path, nested, name="deep.mp4")
    assert read("mp4", deep).copies == []  # only moov/udta children are labels


def test_mp4_truncated_after_moov_is_read_with_an_error(tmp_path: Path) -> None:
    src = labelled(FORMATS["mp4-faststart"].make(tmp_path))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: mdat_offset(src) + 100])
    found = read("mp4", cut)
    assert len(found.copies) == 1 and found.errors
    with pytest.raises(CorruptMedia):
        write("mp4", cut, B.to_json())


# --- Matroska specifics ---------------------------------------------------------------


def ebml(eid: int, body: bytes, size: bytes | None = None) -> bytes:
    head = eid.to_bytes((eid.bit_length() + 7) // 8, "big")
    return head + (size or (0x0100000000000000 | len(body)).to_bytes(8, "big")) + body


def simple_tag(name: bytes, value: bytes, *nested: bytes) -> bytes:
    return ebml(0x67C8, ebml(0x45A3, name) + ebml(0x4487, value) + b"".join(nested))


def tag(*simple: bytes) -> bytes:
    return ebml(0x7373, ebml(0x63C0, b"") + b"".join(simple))


EBML_HEADER = ebml(0x1A45DFA3, ebml(0x4282, b"matroska"))
INFO = ebml(0x1549A966, ebml(0x2AD7B1, b"\x0f\x42\x40"))
CLUSTER = ebml(0x1F43B675, ebml(0xE7, b"\x00") + ebml(0xA3, b"\x81\x00\x00\x80xx"))


def mkv(tmp_path: Path, *children: bytes, name: str = "s.mkv") -> Path:
    path = tmp_path / name
    path.write_bytes(EBML_HEADER + ebml(0x18538067, b"".join(children)))
    return path


def seek_targets(path: Path) -> tuple[list[int], list[int]]:
    """(SeekHead positions listed for Tags, positions of the Tags elements)."""
    with Source.open(path) as src:
        seg = next(matroska._segments(src))
        children = list(matroska._level1(src, seg))
        heads = [
            matroska._parse_seekhead(src, el)
            for el in children
            if el.id == matroska.SEEKHEAD_ID
        ]
    listed = [pos for h in heads for _, eid, pos in h.entries if eid == TAGS]
    found = [el.offset - seg.data_offset for el in children if el.id == TAGS]
    return listed, found


TAGS = 0x1254C367


def test_mkv_seekhead_follows_the_tags(tmp_path: Path) -> None:
    src = FORMATS["mkv"].make(tmp_path)
    for path in (labelled(src), labelled(labelled(src), B, name="again")):
        listed, found = seek_targets(path)
        assert listed == found and len(found) == 1


def test_mkv_tags_go_into_reserved_space(tmp_path: Path) -> None:
    seek = ebml(0x4DBB, ebml(0x53AB, b"\x15\x49\xa9\x66") + ebml(0x53AC, b"\x00"))
    head = ebml(0x114D9B74, seek)
    after_head = mkv(tmp_path, head, ebml(0xEC, bytes(600)), INFO, CLUSTER)
    elsewhere = mkv(
        tmp_path,
        head,
        ebml(0xEC, bytes(60)),
        INFO,
        ebml(0xEC, bytes(600)),
        CLUSTER,
        name="elsewhere.mkv",
    )
    for path in (after_head, elsewhere):
        dst = write("matroska", path, A.to_json())
        assert dst.stat().st_size == path.stat().st_size
        assert dst.read_bytes().index(CLUSTER) == path.read_bytes().index(CLUSTER)
        listed, found = seek_targets(dst)
        assert listed == found and len(found) == 1
        assert [c.payload for c in read("matroska", dst).copies] == [JSON_A]


def test_mkv_track_tag_and_global_tag_are_two_copies(tmp_path: Path) -> None:
    src = FORMATS["mkv"].make(tmp_path)
    both = tmp_path / "both.mkv"
    with av.open(str(src)) as inp, av.open(str(both), "w", "matroska") as out:
        out.metadata["AIGC"] = A.to_json()
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        streams[0].metadata["AIGC"] = A.to_json()
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    reading = read_label(both)
    assert len(reading.copies) == 2
    assert any("TrackUID=" in c.raw.location for c in reading.copies)
    dst = labelled(both, B)
    assert len(read_label(dst).copies) == 1
    assert same_frames(both, dst)


def test_mkv_nested_simple_tags(tmp_path: Path) -> None:
    inner = simple_tag(b"AIGC", JSON_B)
    outer = simple_tag(b"TITLE", b"x", inner)
    path = mkv(tmp_path, INFO, ebml(0x1254C367, tag(outer)), CLUSTER)
    found = read("matroska", path)
    assert [c.location for c in found.copies] == [
        "Segment/Tags/Tag/SimpleTag/SimpleTag AIGC"
    ]
    dst = write("matroska", path, A.to_json())
    after = read("matroska", dst)
    assert [c.payload for c in after.copies] == [JSON_A]
    assert b"TITLE" in dst.read_bytes()


def test_mkv_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    nested = simple_tag(b"AIGC", JSON_A)
    for _ in range(40):
        nested = simple_tag(b"X", b"y", nested)
    path = mkv(tmp_path, ebml(0x1254C367, tag(nested)), CLUSTER)
    found = read("matroska", path)
    assert not found.copies and "deeper" in found.errors[0]
    with pytest.raises(CorruptMedia, match="deeper"):
        write("matroska", path, A.to_json())


def test_mkv_without_seekhead_uses_void_before_the_first_cluster(
    tmp_path: Path,
) -> None:
    void = ebml(0xEC, bytes(400))
    path = mkv(tmp_path, INFO, void, CLUSTER)
    dst = write("matroska", path, A.to_json())
    assert dst.stat().st_size == path.stat().st_size
    assert dst.read_bytes().index(CLUSTER) == path.read_bytes().index(CLUSTER)
    assert [c.payload for c in read("matroska", dst).copies] == [JSON_A]


def test_mkv_without_room_is_refused(tmp_path: Path) -> None:
    path = mkv(tmp_path, INFO, CLUSTER)
    with pytest.raises(UnsupportedFormat, match="no SeekHead"):
        write("matroska", path, A.to_json())
    seek = ebml(0x4DBB, ebml(0x53AB, b"\x15\x49\xa9\x66") + ebml(0x53AC, b"\x00"))
    tight = mkv(tmp_path, ebml(0x114D9B74, seek), INFO, CLUSTER, name="t.mkv")
    with pytest.raises(UnsupportedFormat, match="SeekHead has no room"):
        write("matroska", tight, A.to_json())


def test_mkv_unknown_sizes(tmp_path: Path) -> None:
    unknown = b"\x01\xff\xff\xff\xff\xff\xff\xff"
    cluster = ebml(0x1F43B675, ebml(0xE7, b"\x00"), size=unknown)
    seekhead = ebml(0x114D9B74, b"") + ebml(0xEC, bytes(100))
    path = tmp_path / "live.mkv"
    body = seekhead + INFO + cluster + ebml(0xA3, b"\x81\x00\x00\x80x")
    path.write_bytes(EBML_HEADER + ebml(0x18538067, body, size=unknown))
    dst = write("matroska", path, A.to_json())
    assert [c.payload for c in read("matroska", dst).copies] == [JSON_A]
    assert dst.read_bytes().index(cluster) == path.read_bytes().index(cluster)


def test_mkv_hostile(tmp_path: Path) -> None:
    beyond = tmp_path / "beyond.mkv"
    beyond.write_bytes(EBML_HEADER + ebml(0x18538067, b"", size=b"\x88"))
    found = read("matroska", beyond)
    assert not found.copies and "claims" in found.errors[0]
    with pytest.raises(CorruptMedia):
        write("matroska", beyond, A.to_json())
    not_ebml = tmp_path / "x.mkv"
    not_ebml.write_bytes(b"\x1a\x45\xdf\xa3\x00\x00")
    with pytest.raises(CorruptMedia):
        read("matroska", not_ebml)
    bad_tags = mkv(tmp_path, ebml(0x1254C367, b"\x73\x73\xff"), name="bad.mkv")
    found = read("matroska", bad_tags)
    assert found.errors and not found.copies


# --- FLV specifics --------------------------------------------------------------------


def amf_string(text: bytes) -> bytes:
    return b"\x02" + struct.pack(">H", len(text)) + text


def amf_pairs(pairs: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">H", len(k)) + k + v for k, v in pairs)
    return body + b"\x00\x00\x09"


def amf_ecma(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x08" + struct.pack(">I", len(pairs)) + amf_pairs(pairs)


def flv_tag(kind: int, data: bytes, timestamp: int = 0) -> bytes:
    head = bytes([kind]) + struct.pack(">I", len(data))[1:]
    head += struct.pack(">I", timestamp)[1:] + bytes([timestamp >> 24]) + bytes(3)
    return head + data + struct.pack(">I", 11 + len(data))


def flv(tmp_path: Path, *tags: bytes, name: str = "s.flv") -> Path:
    path = tmp_path / name
    path.write_bytes(b"FLV\x01\x05" + struct.pack(">I", 9) + bytes(4) + b"".join(tags))
    return path


def on_metadata(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return flv_tag(18, amf_string(b"onMetaData") + amf_ecma(pairs))


def test_flv_keyframe_positions_move_with_the_tags(tmp_path: Path) -> None:
    src = FORMATS["flv-keyframes"].make(tmp_path)
    dst = labelled(src)
    assert dst.stat().st_size > src.stat().st_size
    data = dst.read_bytes()
    start = data.index(b"filepositions") + len(b"filepositions")
    count = struct.unpack(">I", data[start + 1 : start + 5])[0]
    assert count >= 1
    for i in range(count):
        at = start + 5 + 9 * i + 1
        (position,) = struct.unpack(">d", data[at : at + 8])
        assert data[int(position)] == 9, "a keyframe position must name a video tag"
    size_at = data.index(b"filesize") + len(b"filesize") + 1
    assert struct.unpack(">d", data[size_at : size_at + 8])[0] == len(data)
    assert same_frames(src, dst)


def test_flv_without_onmetadata_gets_one(tmp_path: Path) -> None:
    src = FORMATS["flv"].make(tmp_path)
    data = src.read_bytes()
    size = int.from_bytes(data[14:17], "big")
    bare = tmp_path / "bare.flv"
    bare.write_bytes(data[:13] + data[13 + 11 + size + 4 :])
    dst = labelled(bare)
    assert read_label(dst).fields == A
    assert same_frames(bare, dst)
    assert content_digest(dst) == content_digest(bare) == content_digest(src)


def test_flv_duplicate_keys_and_object_metadata(tmp_path: Path) -> None:
    pairs = [(b"AIGC", amf_string(JSON_A)), (b"width", b"\x00" + bytes(8))]
    pairs.append((b"aigc", amf_string(JSON_B)))
    obj = flv_tag(18, amf_string(b"onMetaData") + b"\x03" + amf_pairs(pairs))
    path = flv(tmp_path, obj, flv_tag(9, b"\x17\x01\x00\x00\x00frame"))
    found = read("flv", path)
    assert [c.payload for c in found.copies] == [JSON_A, JSON_B]
    dst = write("flv", path, A.to_json())
    after = read("flv", dst)
    assert [c.payload for c in after.copies] == [JSON_A]
    assert dst.read_bytes()[13 + 11 + 1 + 2 + 10] == 3, "stays an AMF0 object"
    assert b"width" in dst.read_bytes()
    assert content_digest(dst) == content_digest(path)


def test_flv_hostile_amf(tmp_path: Path) -> None:
    nested = amf_string(JSON_A)
    for _ in range(40):
        nested = b"\x03" + amf_pairs([(b"k", nested)])
    deep = flv(tmp_path, on_metadata([(b"AIGC", nested)]), name="deep.flv")
    found = read("flv", deep)
    assert not found.copies and "deeper" in found.errors[0]
    with pytest.raises(CorruptMedia, match="deeper"):
        write("flv", deep, A.to_json())
    huge = b"\x0a" + struct.pack(">I", 0xFFFFFFFF)
    claims = flv(tmp_path, on_metadata([(b"x", huge)]), name="claims.flv")
    assert "strict array" in read("flv", claims).errors[0]
    cut = flv(
        tmp_path, on_metadata([(b"AIGC", amf_string(JSON_A))])[:-30], name="c.flv"
    )
    found = read("flv", cut)
    assert not found.copies and "claims" in found.errors[0]
    with pytest.raises(CorruptMedia):
        write("flv", cut, A.to_json())
    not_flv = tmp_path / "n.flv"
    not_flv.write_bytes(b"FLV\x01\x05" + struct.pack(">I", 10**6))
    with pytest.raises(CorruptMedia, match="header"):
        read("flv", not_flv)


# --- RIFF specifics -------------------------------------------------------------------


def chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)


def riff(form: bytes, *chunks: bytes) -> bytes:
    body = form + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def top_chunks(path: Path) -> list[tuple[bytes, int]]:
    data = path.read_bytes()
    out, pos = [], 12
    while pos + 8 <= len(data):
        fourcc, size = (
            data[pos : pos + 4],
            struct.unpack("<I", data[pos + 4 : pos + 8])[0],
        )
        out.append((fourcc, size))
        pos += 8 + size + (size & 1)
    assert pos == len(data)
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    return out


def test_wav_info_copy_and_chunk_copy_become_one(tmp_path: Path) -> None:
    src = FORMATS["wav"].make(tmp_path)
    data = src.read_bytes()
    info = chunk(
        b"LIST", b"INFO" + chunk(b"INAM", b"x\x00") + chunk(b"AIGC", JSON_B + b"\x00")
    )
    odd = JSON_A + b" "  # odd length: needs a pad byte
    body = data[12:] + info + chunk(b"AIGC", odd)
    both = tmp_path / "both.wav"
    both.write_bytes(riff(b"WAVE", body))
    found = read("wav", both)
    assert [c.location for c in found.copies] == ["LIST/INFO/AIGC", "RIFF/AIGC"]
    assert found.copies[0].payload == JSON_B
    dst = labelled(both)
    assert [f for f, _ in top_chunks(dst)].count(b"AIGC") == 1
    assert read_label(dst).fields == A
    assert b"INAM" in dst.read_bytes()
    assert same_frames(src, dst)


def test_wav_rf64(tmp_path: Path) -> None:
    src = remux(
        FORMATS["wav"].make(tmp_path), tmp_path / "r.wav", "wav", {"rf64": "always"}
    )
    assert src.read_bytes()[:4] == b"RF64"
    dst = labelled(src)
    data = dst.read_bytes()
    assert data[:4] == b"RF64"
    ds64 = data.index(b"ds64")
    assert struct.unpack("<Q", data[ds64 + 8 : ds64 + 16])[0] == len(data) - 8
    assert read_label(dst).fields == A
    assert same_frames(src, dst)


def test_riff_hostile(tmp_path: Path) -> None:
    beyond = tmp_path / "beyond.wav"
    claim = b"data" + struct.pack("<I", 10**6) + bytes(10)
    beyond.write_bytes(riff(b"WAVE", chunk(b"fmt ", bytes(16)), claim))
    found = read("wav", beyond)
    assert "claims" in found.errors[0]
    with pytest.raises(CorruptMedia):
        write("wav", beyond, A.to_json())
    nested = chunk(b"AIGC", JSON_A)
    for _ in range(20):
        nested = chunk(b"LIST", b"INFO" + nested)
    deep = tmp_path / "deep.wav"
    deep.write_bytes(riff(b"WAVE", nested))
    found = read("wav", deep)
    assert "deeper" in found.errors[0]
    with pytest.raises(CorruptMedia):
        write("wav", deep, A.to_json())
    rifx = tmp_path / "x.avi"
    rifx.write_bytes(b"RIFX" + bytes(20))
    with pytest.raises(CorruptMedia):
        read("avi", rifx)
    no_movi = tmp_path / "nomovi.avi"
    no_movi.write_bytes(riff(b"AVI ", chunk(b"LIST", b"hdrl")))
    with pytest.raises(CorruptMedia, match="movi"):
        write("avi", no_movi, A.to_json())


def without_junk(src: Path, dst: Path) -> Path:
    """``src`` without the JUNK before movi: the label must move movi."""
    data = src.read_bytes()
    movi = data.index(b"movi") - 8
    junk = data.rindex(b"JUNK", 0, movi)
    size = struct.unpack("<I", data[junk + 4 : junk + 8])[0]
    out = data[:junk] + data[junk + 8 + size :]
    dst.write_bytes(out[:4] + struct.pack("<I", len(out) - 8) + out[8:])
    return dst


def idx1_targets(path: Path) -> list[bool]:
    """The chunk id each idx1 entry points at (relative or absolute offsets)."""
    data = path.read_bytes()
    at = data.index(b"idx1")
    size = struct.unpack("<I", data[at + 4 : at + 8])[0]
    movi = data.index(b"movi")
    entries = [data[i : i + 16] for i in range(at + 8, at + 8 + size, 16)]
    first = struct.unpack("<I", entries[0][8:12])[0]
    base = 0 if first > movi else movi
    return [
        data[base + struct.unpack("<I", e[8:12])[0] :][:4] == e[:4] for e in entries
    ]


def test_avi_uses_junk_before_movi_so_nothing_moves(tmp_path: Path) -> None:
    src = FORMATS["avi"].make(tmp_path)
    dst = labelled(src)
    assert dst.stat().st_size == src.stat().st_size
    assert dst.read_bytes().index(b"movi") == src.read_bytes().index(b"movi")
    top_chunks(dst)


def test_avi_without_junk_moves_movi_and_keeps_idx1(tmp_path: Path) -> None:
    src = without_junk(FORMATS["avi"].make(tmp_path), tmp_path / "tight.avi")
    dst = labelled(src)
    assert dst.read_bytes().index(b"movi") > src.read_bytes().index(b"movi")
    assert all(idx1_targets(dst))
    assert same_frames(src, dst)
    top_chunks(dst)


def test_avi_absolute_idx1_is_rewritten(tmp_path: Path) -> None:
    src = without_junk(FORMATS["avi"].make(tmp_path), tmp_path / "tight.avi")
    data = bytearray(src.read_bytes())
    movi = data.index(b"movi")
    at = data.index(b"idx1")
    size = struct.unpack("<I", data[at + 4 : at + 8])[0]
    for entry in range(at + 8, at + 8 + size, 16):
        (offset,) = struct.unpack("<I", data[entry + 8 : entry + 12])
        struct.pack_into("<I", data, entry + 8, offset + movi)
    absolute = tmp_path / "absolute.avi"
    absolute.write_bytes(bytes(data))
    assert all(idx1_targets(absolute))
    dst = labelled(absolute)
    assert all(idx1_targets(dst))
    assert same_frames(absolute, dst)


def test_avi_opendml_without_room_is_refused(tmp_path: Path) -> None:
    src = without_junk(FORMATS["avi"].make(tmp_path), tmp_path / "tight.avi")
    data = src.read_bytes()
    odml = tmp_path / "odml.avi"
    odml.write_bytes(data.replace(b"JUNK", b"indx", 1))
    with pytest.raises(UnsupportedFormat, match="OpenDML"):
        write_label(odml, A, out=tmp_path / "o.avi")
    ok = tmp_path / "odml-junk.avi"
    ok.write_bytes(
        FORMATS["avi"].make(tmp_path).read_bytes().replace(b"JUNK", b"indx", 1)
    )
    assert read_label(labelled(ok)).fields == A


def test_avi_label_copy_after_movi_is_blanked(tmp_path: Path) -> None:
    src = FORMATS["avi"].make(tmp_path)
    data = src.read_bytes()
    extra = chunk(b"AIGC", JSON_B) + chunk(b"LIST", b"INFO" + chunk(b"AIGC", JSON_B))
    body = data[12:] + extra
    both = tmp_path / "both.avi"
    both.write_bytes(riff(b"AVI ", body))
    assert len(read_label(both).copies) == 2
    dst = labelled(both)
    assert dst.stat().st_size == both.stat().st_size
    assert len(read_label(dst).copies) == 1
    assert same_frames(src, dst)


# --- MP3 and Vorbis-comment specifics -------------------------------------------------


def test_mp3_keeps_frames_and_version(tmp_path: Path) -> None:
    src = tmp_path / "v23.mp3"
    shutil.copyfile(FORMATS["mp3"].make(tmp_path), src)
    tags = mutagen.id3.ID3(str(src))
    tags.add(mutagen.id3.TXXX(encoding=3, desc="aigc", text=[JSON_B.decode()]))
    tags.add(mutagen.id3.TXXX(encoding=3, desc="AIGC", text=[JSON_A.decode()]))
    tags.add(mutagen.id3.COMM(encoding=3, lang="eng", desc="", text=["kept"]))
    tags.save(str(src), v2_version=3)
    assert len(read_label(src).copies) == 2
    dst = labelled(src)
    after = mutagen.id3.ID3(str(dst))
    assert after.version[:2] == (2, 3)
    assert [str(f) for f in after.getall("COMM")] == ["kept"]
    assert [f.desc for f in after.getall("TXXX")] == ["AIGC"]
    assert same_frames(src, dst)


def test_mp3_hostile_id3(tmp_path: Path) -> None:
    src = FORMATS["mp3"].make(tmp_path)
    data = src.read_bytes()
    huge = tmp_path / "huge.mp3"
    huge.write_bytes(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + data[10:])
    with pytest.raises(CorruptMedia, match="ID3v2"):
        read("mp3", huge)
    with pytest.raises(CorruptMedia, match="ID3v2"):
        write("mp3", huge, A.to_json())
    with pytest.raises(MediaLimitExceeded):
        read("mp3", labelled(src), Limits(max_metadata_bytes=64))
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x20" + b"\xff" * 40)
    with contextlib.suppress(CorruptMedia):
        assert read("mp3", junk).copies == []


def test_vorbis_duplicates_and_other_comments(tmp_path: Path) -> None:
    src = tmp_path / "dup.flac"
    shutil.copyfile(FORMATS["flac"].make(tmp_path), src)
    audio = mutagen.File(str(src))
    audio.tags["AIGC"] = [JSON_A.decode(), JSON_B.decode()]
    audio.tags["ARTIST"] = ["kept"]
    audio.save()
    assert len(read_label(src).copies) == 2
    dst = labelled(src, B)
    after = mutagen.File(str(dst))
    assert after.tags["AIGC"] == [JSON_B.decode()]
    assert after.tags["ARTIST"] == ["kept"]
    assert same_frames(src, dst)


def ogg_page(packet: bytes, serial: int, flags: int = 2) -> bytes:
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    head = b"OggS\x00" + bytes([flags]) + bytes(8) + struct.pack("<III", serial, 0, 0)
    return head + bytes([len(lacing)]) + lacing + packet


def test_ogg_video_and_multiplexed_streams_are_refused(tmp_path: Path) -> None:
    theora = tmp_path / "t.ogv"
    theora.write_bytes(ogg_page(b"\x80theora" + bytes(40), 1))
    with pytest.raises(UnsupportedFormat, match="Theora"):
        read("vorbis", theora)
    two = tmp_path / "two.ogg"
    opus = b"OpusHead\x01\x01" + bytes(17)
    two.write_bytes(ogg_page(opus, 1) + ogg_page(opus, 2))
    with pytest.raises(UnsupportedFormat, match="multiplexed"):
        write("vorbis", two, A.to_json())
    odd = tmp_path / "odd.ogg"
    odd.write_bytes(ogg_page(b"NotACodec" + bytes(20), 1))
    with pytest.raises(UnsupportedFormat, match="unknown Ogg codec"):
        read("vorbis", odd)


def test_vorbis_metadata_limits(tmp_path: Path) -> None:
    flac = labelled(FORMATS["flac"].make(tmp_path))
    with pytest.raises(MediaLimitExceeded):
        read("vorbis", flac, Limits(max_metadata_bytes=64))
    data = bytearray(flac.read_bytes())
    data[5:8] = (10**6).to_bytes(3, "big")  # STREAMINFO claims a megabyte
    bad = tmp_path / "bad.flac"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptMedia):
        read("vorbis", bad)
    opus = labelled(FORMATS["opus"].make(tmp_path))
    with pytest.raises(MediaLimitExceeded):
        read("vorbis", opus, Limits(max_metadata_bytes=64))
