"""ProvenanceDetector end to end, one section per carrier."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import mutagen.flac
import mutagen.id3
import mutagen.oggopus
import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from deepguard.config import Settings
from deepguard.media.item import MediaItem
from deepguard.media.probe import MediaKind, ProbeResult
from deepguard.provenance import ProvenanceDetector
from deepguard.provenance.detector import READERS
from media_factory import jpeg_segment, png_chunk, write_mp4, xmp_packet

DATA = Path(__file__).resolve().parents[2] / "../shared/data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data absent")
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
Scan = Callable[..., Any]
"""The ``scan`` fixture: path -> the detector's findings (conftest ``Findings``)."""
MakePng = Callable[..., Path]
MakeJpeg = Callable[..., Path]

IPTC = 'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
XMPNS = 'xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
DCNS = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
LABEL = (
    '{"AIGC":{"Label":"1","ContentProducer":"001191440300708461136T1XGW3",'
    '"ProduceID":"abc123"}}'
)
VEO_HANDLER = "Veo 3 VideoHandler"
A1111 = (
    "a cat astronaut, best quality\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
    'Lora hashes: "add_detail: 7c6bad76eb54", Version: v1.10.1'
)


# --- detector contract -------------------------------------------------------


def test_identity_and_support_for_every_kind(tmp_path: Path) -> None:
    assert ProvenanceDetector.name == "provenance"
    assert ProvenanceDetector.version == "1"
    assert ProvenanceDetector.metadata_only is True
    detector = ProvenanceDetector()
    for kind in MediaKind:
        probe = ProbeResult(kind, "application/octet-stream", "x")
        item = MediaItem(path=tmp_path, probe=probe, size=1, sha256="0" * 64)
        assert detector.supports(item)


def test_dispatch_table_covers_the_probed_containers() -> None:
    expected = {"jpeg", "png", "riff", "isobmff", "gif", "tiff", "matroska", "flv"}
    expected |= {"mpegts", "mpeg", "flac", "ogg", "pdf", "zip", "text"}
    assert set(READERS) == expected


def test_the_file_is_never_modified(make_png: MakePng, scan: Scan) -> None:
    path = make_png({"parameters": A1111, "AIGC": LABEL})
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    path.chmod(0o444)  # read-only: any attempt to write would fail
    assert scan(path)
    after = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    assert before == after


# --- PNG text chunks ---------------------------------------------------------


def test_png_sd_parameters(make_png: MakePng, scan: Scan) -> None:
    path = make_png({"parameters": A1111})
    finding = scan(path).one("png.sd_parameters")
    details = finding.details
    assert details["field"] == "png:parameters"
    assert details["keyword"] == "parameters"
    assert details["value"] == A1111
    parsed = details["parsed"]
    assert parsed["Steps"] == "30"
    assert parsed["Seed"] == "1234567"
    assert parsed["Sampler"] == "DPM++ 2M Karras"
    assert parsed["CFG scale"] == "7"
    assert parsed["Model"] == "v1-5-pruned-emaonly"
    assert parsed["Model hash"] == "6ce0161689"
    assert parsed["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert parsed["prompt"] == "a cat astronaut, best quality"
    assert parsed["negative_prompt"] == "blurry, lowres"
    assert finding.confidence == 1.0
    assert finding.where is not None
    assert finding.where["carrier"] == "png:tEXt"
    offset = finding.where["offset"]
    assert path.read_bytes()[offset + 4 : offset + 8] == b"tEXt"


def test_png_parameters_in_itxt_and_long_values_truncated(
    make_png: MakePng, scan: Scan
) -> None:
    long_prompt = "x" * 5000 + "\nSteps: 4, Seed: 9"
    finding = scan(make_png(itxt={"parameters": long_prompt})).one("png.sd_parameters")
    assert finding.where == {"carrier": "png:iTXt", "offset": finding.where["offset"]}
    assert len(finding.details["value"]) == 2000
    assert finding.details["parsed"]["Seed"] == "9"


def test_png_comfyui_prompt_and_workflow(make_png: MakePng, scan: Scan) -> None:
    prompt = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 20}},
        "4": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "flux1-dev.safetensors"},
        },
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox"}},
    }
    workflow = {
        "nodes": [
            {
                "id": 4,
                "type": "CheckpointLoaderSimple",
                "widgets_values": ["sdxl.safetensors"],
            },
            {"id": 3, "type": "KSampler", "widgets_values": [42, "fixed", 20]},
        ],
        "links": [],
        "version": 0.4,
    }
    found = scan(
        make_png({"prompt": json.dumps(prompt), "workflow": json.dumps(workflow)})
    )
    p = found.one("png.comfyui_prompt").details
    assert p["field"] == "png:prompt"
    assert p["parsed"]["models"] == ["flux1-dev.safetensors"]
    assert p["parsed"]["seeds"] == [42]
    assert p["parsed"]["prompts"] == ["a red fox"]
    assert p["parsed"]["class_types"] == [
        "CLIPTextEncode",
        "CheckpointLoaderSimple",
        "KSampler",
    ]
    w = found.one("png.comfyui_workflow").details
    assert w["parsed"]["node_types"] == ["CheckpointLoaderSimple", "KSampler"]
    assert w["parsed"]["models"] == ["sdxl.safetensors"]
    assert w["parsed"]["node_count"] == 2


def test_png_prompt_that_is_not_json_is_not_comfyui(
    make_png: MakePng, scan: Scan
) -> None:
    assert scan(make_png({"prompt": "just words"})) == []


def test_png_novelai(make_png: MakePng, scan: Scan) -> None:
    comment = {
        "prompt": "1girl",
        "steps": 28,
        "seed": 77,
        "sampler": "k_euler",
        "uc": "bad",
    }
    found = scan(
        make_png(
            {
                "Software": "NovelAI",
                "Source": "Stable Diffusion XL C1E1DE52",
                "Comment": json.dumps(comment),
            }
        )
    )
    text = found.one("png.generator_text").details
    assert text["generator"] == "NovelAI"
    assert text["keyword"] == "Comment"
    assert text["parsed"] == {
        "prompt": "1girl",
        "steps": 28,
        "seed": 77,
        "sampler": "k_euler",
        "negative_prompt": "bad",
    }
    names = {f.details["field"]: f for f in found.of("generator.name")}
    assert names["png:Software"].details["generator"] == "NovelAI"
    assert names["png:Software"].confidence == 0.9
    assert names["png:Source"].details["generator"] == "Stable Diffusion"


def test_png_comment_json_without_novelai_software(
    make_png: MakePng, scan: Scan
) -> None:
    assert scan(make_png({"Comment": json.dumps({"steps": 3})})) == []


def test_png_invokeai(make_png: MakePng, scan: Scan) -> None:
    meta = {
        "positive_prompt": "a lighthouse",
        "seed": 5,
        "model": {"name": "juggernaut"},
    }
    text = scan(make_png({"invokeai_metadata": json.dumps(meta)})).one(
        "png.generator_text"
    )
    assert text.details["generator"] == "InvokeAI"
    assert text.details["parsed"] == {
        "positive_prompt": "a lighthouse",
        "seed": 5,
        "model": "juggernaut",
    }


@pytest.mark.parametrize("keyword", ["AIGC", "aigc"])
def test_png_aigc_text_chunk(make_png: MakePng, scan: Scan, keyword: str) -> None:
    finding = scan(make_png({keyword: LABEL})).one("aigc.raw")
    assert finding.details == {
        "field": f"png:{keyword}",
        "value": LABEL,
        "parsed": json.loads(LABEL)["AIGC"],
        "label": "1",
    }
    assert finding.confidence == 1.0


def test_png_aigc_that_is_not_json_is_still_reported(
    make_png: MakePng, scan: Scan
) -> None:
    finding = scan(make_png({"AIGC": "Label=1"})).one("aigc.raw")
    assert finding.details["parsed"] is None
    assert finding.details["label"] is None


def test_png_xmp_itxt_with_tc260_label(make_png: MakePng, scan: Scan) -> None:
    packet = xmp_packet(
        f"<TC260:AIGC>{LABEL}</TC260:AIGC>",
        'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"',
    )
    finding = scan(make_png(itxt={"XML:com.adobe.xmp": packet.decode()})).one(
        "aigc.raw"
    )
    assert finding.details["field"] == "TC260:AIGC"
    assert finding.details["label"] == "1"
    assert finding.where is not None and finding.where["carrier"] == "png:iTXt"


# --- JPEG: XMP and EXIF ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ai", "synthetic"),
    [
        (AI_SOURCE, True, False),
        (
            "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
            True,
            False,
        ),
        (
            "https://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia",
            False,
            True,
        ),
        ("compositeSynthetic", False, True),
        ("trainedAlgorithmicMedia", True, False),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture", False, False),
    ],
)
def test_jpeg_xmp_digital_source_type(
    make_jpeg: MakeJpeg, scan: Scan, value: str, ai: bool, synthetic: bool
) -> None:
    body = f"<Iptc4xmpExt:DigitalSourceType>{value}</Iptc4xmpExt:DigitalSourceType>"
    path = make_jpeg(xmp=xmp_packet(body, IPTC))
    finding = scan(path).one("xmp.digital_source_type")
    assert finding.details["field"] == "Iptc4xmpExt:DigitalSourceType"
    assert finding.details["value"] == value
    assert finding.details["ai_generated"] is ai
    assert finding.details["synthetic"] is synthetic
    assert finding.where == {"carrier": "jpeg:APP1/xmp", "offset": 2}
    assert path.read_bytes()[2:4] == b"\xff\xe1"


def test_plus_digital_source_type_attribute(make_jpeg: MakeJpeg, scan: Scan) -> None:
    ns = (
        'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        f'plus:DigitalSourceType="{AI_SOURCE}"'
    )
    finding = scan(make_jpeg(xmp=xmp_packet("", ns))).one("xmp.digital_source_type")
    assert finding.details["field"] == "plus:DigitalSourceType"
    assert finding.details["ai_generated"] is True


def test_jpeg_xmp_ai_fields_and_creator_tool(make_jpeg: MakeJpeg, scan: Scan) -> None:
    body = (
        "<Iptc4xmpExt:AISystemUsed>Midjourney</Iptc4xmpExt:AISystemUsed>"
        "<Iptc4xmpExt:AISystemVersionUsed>6.1</Iptc4xmpExt:AISystemVersionUsed>"
        "<Iptc4xmpExt:AIPromptInformation>a castle</Iptc4xmpExt:AIPromptInformation>"
        "<Iptc4xmpExt:AIPromptWriterName>Ann</Iptc4xmpExt:AIPromptWriterName>"
        "<xmp:CreatorTool>Adobe Firefly Image 3</xmp:CreatorTool>"
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">A sunset</rdf:li>'
        "</rdf:Alt></dc:description>"
        "<dc:creator><rdf:Seq><rdf:li>Bo</rdf:li><rdf:li>DALL·E 3</rdf:li></rdf:Seq>"
        "</dc:creator>"
    )
    found = scan(make_jpeg(xmp=xmp_packet(body, f"{IPTC} {XMPNS} {DCNS}")))
    fields = {f.details["field"]: f.details for f in found.of("xmp.ai_field")}
    assert set(fields) == {
        "Iptc4xmpExt:AISystemUsed",
        "Iptc4xmpExt:AISystemVersionUsed",
        "Iptc4xmpExt:AIPromptInformation",
        "Iptc4xmpExt:AIPromptWriterName",
    }
    assert fields["Iptc4xmpExt:AISystemUsed"] == {
        "field": "Iptc4xmpExt:AISystemUsed",
        "value": "Midjourney",
        "generator": "Midjourney",
    }
    assert fields["Iptc4xmpExt:AIPromptInformation"]["generator"] is None
    names = [
        (f.details["field"], f.details["generator"]) for f in found.of("generator.name")
    ]
    assert names == [("xmp:CreatorTool", "Adobe Firefly"), ("dc:creator", "DALL-E")]


def test_dc_description_naming_a_generator(make_jpeg: MakeJpeg, scan: Scan) -> None:
    body = "<dc:description>Generated with Kling 2.1</dc:description>"
    finding = scan(make_jpeg(xmp=xmp_packet(body, DCNS))).one("generator.name")
    assert finding.details["field"] == "dc:description"
    assert finding.confidence == 0.7


@pytest.mark.parametrize(
    ("value", "generator"),
    [
        ("由即梦AI生成", "Jimeng"),
        ("豆包", "Doubao"),
        ("可灵AI 2.1", "Kling"),
        ("海螺AI", "Hailuo"),
        ("通义万相", "Tongyi Wanxiang"),
        ("文心一格", "Wenxin Yige"),
        ("豆包 recipe", None),
        ("海螺汤", None),
    ],
)
def test_chinese_generator_names(
    make_png: MakePng, scan: Scan, value: str, generator: str | None
) -> None:
    found = scan(make_png(itxt={"Software": value}))
    if generator is None:
        assert found == []
    else:
        assert found.one("generator.name").details["generator"] == generator


def software_exif(tag: int, value: str) -> Image.Exif:
    exif = Image.Exif()
    exif[tag] = value
    return exif


@pytest.mark.parametrize(
    ("tag", "value", "generator", "vendor"),
    [
        (0x0131, "Adobe Firefly", "Adobe Firefly", "Adobe"),
        (0x0131, "Midjourney", "Midjourney", "Midjourney"),
        (0x0131, "DALL?E 3", "DALL-E", "OpenAI"),  # "·" as ASCII-only writers store it
        (0x010F, "Google", None, None),
        (0x0110, "Imagen 4", "Imagen", "Google"),
        (0x013B, "ChatGPT", "ChatGPT", "OpenAI"),
        (0x010E, "Rendered by Hailuo AI", "Hailuo", "MiniMax"),
        (0x0131, "Adobe Photoshop 25.0", None, None),
        (0x0131, "Influx", None, None),
        (0x0131, "Pikachu", None, None),
        (0x0131, "GIMP 2.10", None, None),
        (0x0131, "fluxbox", None, None),
        (0x013B, "Soraya", None, None),
    ],
)
def test_exif_generator_names(
    make_jpeg: MakeJpeg,
    scan: Scan,
    tag: int,
    value: str,
    generator: str | None,
    vendor: str | None,
) -> None:
    found = scan(make_jpeg(exif=software_exif(tag, value)))
    if generator is None:
        assert found == []
        return
    finding = found.one("generator.name")
    name = {0x0131: "Software", 0x010F: "Make", 0x0110: "Model", 0x013B: "Artist"}
    name[0x010E] = "ImageDescription"
    assert finding.details["field"] == f"exif:{name[tag]}"
    assert finding.details["value"] == value
    assert finding.details["generator"] == generator
    assert finding.details["vendor"] == vendor
    assert finding.details["pattern"]
    assert finding.where is not None
    assert finding.where["carrier"] == "jpeg:APP1/exif"


def test_exif_user_comment_aigc_and_sd_parameters(
    make_jpeg: MakeJpeg, scan: Scan
) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\0\0\0" + LABEL.encode()
    aigc = scan(make_jpeg(exif=exif, name="a.jpg")).one("aigc.raw")
    assert aigc.details["field"] == "exif:UserComment"
    assert aigc.details["label"] == "1"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + A1111.encode("utf-16-be")
    sd = scan(make_jpeg(exif=exif, name="b.jpg")).one("exif.sd_parameters")
    assert sd.details["parsed"]["Seed"] == "1234567"


def test_jpeg_comment_segment(make_jpeg: MakeJpeg, scan: Scan) -> None:
    path = make_jpeg(segments=(jpeg_segment(0xFE, b"Created with Leonardo.Ai"),))
    finding = scan(path).one("generator.name")
    assert finding.details["field"] == "jpeg:COM"
    assert finding.details["generator"] == "Leonardo"


# --- containers through our walkers -------------------------------------------


def test_mp4_written_by_pyav(tmp_path: Path, scan: Scan) -> None:
    # The mp4 muxer overwrites "encoder" with its own Lavf version, so the
    # generator goes where real tools put it: comment and title.
    path = write_mp4(
        tmp_path / "v.mp4",
        {"comment": "made with Kling AI", "title": "Kling"},
        handler=VEO_HANDLER,
    )
    found = scan(path)
    names = {f.details["field"]: f for f in found.of("generator.name")}
    assert names["mp4:comment"].details["generator"] == "Kling"
    assert names["mp4:comment"].where == {
        "carrier": "isobmff:moov/udta/meta/ilst/©cmt/data",
        "offset": names["mp4:comment"].where["offset"],
    }
    assert names["mp4:title"].details["generator"] == "Kling"
    assert names["stream0:handler_name"].details["generator"] == "Veo"
    assert names["stream0:handler_name"].confidence == 0.9
    assert "mp4:encoder" not in names  # Lavf62...


def test_mp4_mdta_aigc_key(tmp_path: Path, scan: Scan) -> None:
    path = write_mp4(
        tmp_path / "k.mp4", {"AIGC": LABEL}, handler=VEO_HANDLER, mdta=True
    )
    finding = scan(path).one("aigc.raw")
    assert finding.details["field"] == "mp4:AIGC"
    assert finding.details["label"] == "1"
    assert finding.where is not None
    assert finding.where["carrier"] == "isobmff:moov/udta/meta/ilst/1/data"


def wav(*chunks: bytes) -> bytes:
    def ck(fourcc: bytes, data: bytes) -> bytes:
        return fourcc + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)

    fmt = ck(b"fmt ", struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16))
    body = (
        b"WAVE"
        + fmt
        + b"".join(ck(*c) for c in zip(chunks[::2], chunks[1::2], strict=True))
    )
    body += ck(b"data", b"\0\0" * 16)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_wav_info_and_aigc_chunk(tmp_path: Path, scan: Scan) -> None:
    info = b"INFO" + b"ISFT" + struct.pack("<I", 11) + b"ElevenLabs\0\0"
    path = tmp_path / "a.wav"
    path.write_bytes(wav(b"LIST", info, b"AIGC", LABEL.encode()))
    found = scan(path)
    name = found.one("generator.name")
    assert (name.details["field"], name.details["generator"]) == (
        "riff:ISFT",
        "ElevenLabs",
    )
    assert name.where is not None and name.where["carrier"] == "riff:INFO/ISFT"
    aigc = found.one("aigc.raw")
    assert aigc.details["field"] == "riff:AIGC"
    assert aigc.where is not None and aigc.where["carrier"] == "riff:WAVE/AIGC"


def test_webp_xmp_and_exif(tmp_path: Path, scan: Scan) -> None:
    body = f"<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE}</Iptc4xmpExt:DigitalSourceType>"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(
        buf,
        "WEBP",
        xmp=xmp_packet(body, IPTC),
        exif=software_exif(0x0131, "Ideogram").tobytes(),
    )
    path = tmp_path / "i.webp"
    path.write_bytes(buf.getvalue())
    found = scan(path)
    dst = found.one("xmp.digital_source_type")
    assert dst.where is not None and dst.where["carrier"] == "riff:WEBP/XMP"
    name = found.one("generator.name")
    assert name.details["generator"] == "Ideogram"
    assert name.where is not None and name.where["carrier"] == "riff:WEBP/EXIF"


def test_gif_xmp_extension_and_comment(tmp_path: Path, scan: Scan) -> None:
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF", comment=b"made with Midjourney")
    data = buf.getvalue()
    packet = xmp_packet(
        "<Iptc4xmpExt:AISystemUsed>Flux</Iptc4xmpExt:AISystemUsed>", IPTC
    )
    trailer = bytes([1, *range(255, -1, -1)]) + b"\0"
    ext = b"\x21\xff\x0bXMP DataXMP" + packet + trailer
    at = data.index(b"\x21\xfe")  # before the comment extension
    path = tmp_path / "a.gif"
    path.write_bytes(data[:at] + ext + data[at:])
    found = scan(path)
    assert found.one("xmp.ai_field").details["generator"] == "Flux"
    name = found.one("generator.name")
    assert (name.details["field"], name.details["generator"]) == (
        "gif:comment",
        "Midjourney",
    )


def test_tiff_software_and_xmp_tag(tmp_path: Path, scan: Scan) -> None:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x0131] = "Stable Diffusion 3.5"
    body = f"<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE}</Iptc4xmpExt:DigitalSourceType>"
    info[700] = xmp_packet(body, IPTC)
    info.tagtype[700] = 1
    path = tmp_path / "a.tif"
    Image.new("RGB", (4, 4)).save(path, "TIFF", tiffinfo=info)
    found = scan(path)
    name = found.one("generator.name")
    assert name.details["field"] == "exif:Software"
    assert name.where is not None and name.where["carrier"] == "tiff:IFD0"
    dst = found.one("xmp.digital_source_type")
    assert dst.where is not None and dst.where["carrier"] == "tiff:IFD0/XMP"


# --- containers through PyAV and mutagen --------------------------------------


def test_matroska_tags(tmp_path: Path, scan: Scan) -> None:
    path = tmp_path / "a.mkv"
    with av.open(str(path), "w", format="matroska") as out:
        out.metadata.update({"COMMENT": "Sora 2 render", "AIGC": LABEL})
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), "rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    found = scan(path)
    name = found.one("generator.name")
    assert (name.details["field"], name.details["generator"]) == ("mkv:COMMENT", "Sora")
    aigc = found.one("aigc.raw")
    assert aigc.details["field"] == "mkv:AIGC"
    assert aigc.details["parsed"]["ProduceID"] == "abc123"


def encode_audio(path: Path, fmt: str, codec: str, rate: int = 48000) -> Path:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        samples = np.zeros((1, 4800), np.float32 if codec != "flac" else np.int16)
        layout_format = "fltp" if codec != "flac" else "s16"
        if codec == "libmp3lame":
            layout_format = "fltp"
        frame = av.AudioFrame.from_ndarray(samples, format=layout_format, layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return path


def test_mp3_id3_txxx_aigc_and_tsse(tmp_path: Path, scan: Scan) -> None:
    path = encode_audio(tmp_path / "a.mp3", "mp3", "libmp3lame", 44100)
    tags = mutagen.id3.ID3()
    tags.add(mutagen.id3.TXXX(encoding=3, desc="AIGC", text=[LABEL]))
    tags.add(mutagen.id3.TSSE(encoding=3, text=["Suno v4.5"]))
    tags.add(mutagen.id3.COMM(encoding=3, lang="eng", desc="", text=["hello"]))
    tags.save(path)
    found = scan(path)
    aigc = found.one("aigc.raw")
    assert aigc.details["field"] == "id3:TXXX:AIGC"
    assert aigc.details["parsed"]["Label"] == "1"
    assert aigc.details["label"] == "1"
    name = found.one("generator.name")
    assert (name.details["field"], name.details["generator"]) == ("id3:TSSE", "Suno")


def test_mp3_id3v1_only(tmp_path: Path, scan: Scan) -> None:
    path = encode_audio(tmp_path / "b.mp3", "mp3", "libmp3lame", 44100)
    tag = b"TAG" + b"Song".ljust(30, b"\0") + b"Udio".ljust(30, b"\0") + b"\0" * 30
    tag += b"2025" + b"note".ljust(30, b"\0") + b"\xff"
    data = path.read_bytes()
    path.write_bytes(data + tag)
    finding = scan(path).one("generator.name")
    assert finding.details["field"] == "id3v1:artist"
    assert finding.details["generator"] == "Udio"


def test_flac_and_opus_vorbis_comments(tmp_path: Path, scan: Scan) -> None:
    flac = encode_audio(tmp_path / "a.flac", "flac", "flac")
    audio = mutagen.flac.FLAC(flac)
    audio["AIGC"] = LABEL
    audio["ENCODER"] = "ElevenLabs v3"
    audio.save()
    found = scan(flac)
    assert found.one("aigc.raw").details["field"] == "vorbis:AIGC"
    assert found.one("generator.name").details["field"] == "vorbis:ENCODER"
    opus = encode_audio(tmp_path / "a.opus", "ogg", "libopus")
    audio = mutagen.oggopus.OggOpus(opus)
    audio["aigc"] = LABEL
    audio.save()
    assert scan(opus).one("aigc.raw").details["field"] == "vorbis:aigc"


# --- documents and fallbacks --------------------------------------------------


def test_pdf_info_and_xmp(tmp_path: Path, scan: Scan) -> None:
    creator = "豆包AI".encode("utf-16-be")
    packet = xmp_packet(
        f"<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE}</Iptc4xmpExt:DigitalSourceType>",
        IPTC,
    )
    body = (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
        b"2 0 obj\n<< /Producer (Made \\(with\\) Midjourney) /Creator <FEFF"
        + creator.hex().encode()
        + b"> /AIGC ("
        + LABEL.encode()
        + b") >>\nendobj\n3 0 obj\n<< /Type /Metadata /Subtype /XML >>\nstream\n"
        + packet
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R /Info 2 0 R >>\n%%EOF\n"
    )
    path = tmp_path / "a.pdf"
    path.write_bytes(body)
    found = scan(path)
    names = {f.details["field"]: f.details for f in found.of("generator.name")}
    assert names["pdf:Producer"]["value"] == "Made (with) Midjourney"
    assert names["pdf:Creator"]["generator"] == "Doubao"
    assert found.one("aigc.raw").details["field"] == "pdf:AIGC"
    dst = found.one("xmp.digital_source_type")
    assert dst.where is not None and dst.where["carrier"] == "pdf:xmp"


def test_docx_properties(tmp_path: Path, scan: Scan) -> None:
    path = tmp_path / "a.docx"
    office = "http://schemas.openxmlformats.org/officeDocument/2006"
    custom = (
        f'<Properties xmlns="{office}/custom-properties" '
        f'xmlns:vt="{office}/docPropsVTypes">'
        '<property fmtid="x" pid="2" name="AIGC">'
        f"<vt:lpwstr>{LABEL}</vt:lpwstr></property></Properties>"
    )
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:creator>ChatGPT</dc:creator></cp:coreProperties>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("docProps/core.xml", core)
        archive.writestr("docProps/custom.xml", custom)
    found = scan(path)
    assert found.one("aigc.raw").details["field"] == "ooxml:custom:AIGC"
    name = found.one("generator.name")
    assert (name.details["field"], name.details["generator"]) == (
        "ooxml:creator",
        "ChatGPT",
    )


def test_markdown_front_matter(tmp_path: Path, scan: Scan) -> None:
    path = tmp_path / "a.md"
    label = LABEL.replace("'", "''")
    path.write_text(
        f"---\ntitle: Notes\nAIGC: '{label}'\ngenerator: ChatGPT\n---\n# Hi\n"
    )
    found = scan(path)
    aigc = found.one("aigc.raw")
    assert aigc.details["field"] == "front_matter:AIGC"
    assert aigc.details["value"] == LABEL
    assert found.one("generator.name").details["field"] == "front_matter:generator"


def test_bmp_falls_back_to_the_xmp_byte_scan(tmp_path: Path, scan: Scan) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "BMP")
    body = "<Iptc4xmpExt:AISystemUsed>Recraft</Iptc4xmpExt:AISystemUsed>"
    path = tmp_path / "a.bmp"
    path.write_bytes(buf.getvalue() + xmp_packet(body, IPTC))
    finding = scan(path).one("xmp.ai_field")
    assert finding.details["generator"] == "Recraft"
    assert finding.where == {"carrier": "bmp:xmp", "offset": len(buf.getvalue())}


# --- C2PA ---------------------------------------------------------------------


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "purple").save(buf, fmt)
    return buf.getvalue()


def mp4_bytes(tmp_path: Path) -> bytes:
    return write_mp4(tmp_path / "plain.mp4", {}, handler=VEO_HANDLER).read_bytes()


@needs_data
@pytest.mark.parametrize(
    ("suffix", "mime", "fmt"),
    [
        ("jpg", "image/jpeg", "JPEG"),
        ("png", "image/png", "PNG"),
        ("gif", "image/gif", "GIF"),
        ("webp", "image/webp", "WEBP"),
        ("tif", "image/tiff", "TIFF"),
        ("mp4", "video/mp4", None),
        ("wav", "audio/wav", None),
    ],
)
def test_c2pa_ai_source_in_every_walked_container(
    tmp_path: Path,
    scan: Scan,
    sign_c2pa: Callable[..., bytes],
    suffix: str,
    mime: str,
    fmt: str | None,
) -> None:
    if fmt is not None:
        data = image_bytes(fmt)
    elif suffix == "mp4":
        data = mp4_bytes(tmp_path)
    else:
        data = wav()
    action = {
        "action": "c2pa.created",
        "digitalSourceType": AI_SOURCE,
        "softwareAgent": {"name": "Hunyuan", "version": "2"},
    }
    path = tmp_path / f"signed.{suffix}"
    path.write_bytes(sign_c2pa(data, mime, [action]))
    found = scan(path)
    manifest = found.one("c2pa.manifest")
    assert manifest.details["validation_state"] == "Valid"
    assert manifest.details["claim_generator"] == "deepguard-test 1.0"
    assert manifest.confidence == 1.0
    where = {
        "jpg": "jpeg:APP11",
        "png": "png:caBX",
        "gif": "gif:C2PA_GIF",
        "webp": "riff:WEBP/C2PA",
        "wav": "riff:WAVE/C2PA",
        "mp4": "isobmff:uuid",
        "tif": "c2pa",  # TIFF is not walked for C2PA: c2pa-rs is always asked
    }
    assert manifest.where is not None
    assert manifest.where["carrier"] == where[suffix]
    ai = found.one("c2pa.ai_source").details
    assert ai["action"] == "c2pa.created"
    assert ai["digitalSourceType"] == AI_SOURCE
    assert ai["softwareAgent"] == "Hunyuan 2"
    assert ai["validation_state"] == "Valid"


def test_c2pa_is_not_asked_when_the_walk_saw_no_manifest(
    make_png: MakePng, make_jpeg: MakeJpeg, monkeypatch: pytest.MonkeyPatch
) -> None:
    detector = ProvenanceDetector()
    calls: list[str] = []
    monkeypatch.setattr(
        detector._c2pa, "read", lambda path, mime: calls.append(mime) or []
    )
    plain = make_png()
    detector.run(MediaItem.open(plain))
    assert calls == []
    jumbf = make_jpeg(segments=(jpeg_segment(0xEB, b"JP\x00\x01jumbf"),))
    detector.run(MediaItem.open(jumbf))
    assert calls == ["image/jpeg"]
    cabx = make_png(raw=(png_chunk(b"caBX", b"\0" * 8),), name="c.png")
    detector.run(MediaItem.open(cabx))
    assert calls == ["image/jpeg", "image/png"]


@needs_data
def test_from_settings_uses_the_trust_settings() -> None:
    settings = Settings(
        c2pa_trust_settings=DATA / "c2pa/trust_config_test_settings.json"
    )
    detector = ProvenanceDetector.from_settings(settings)
    findings = detector.run(MediaItem.open(DATA / "c2pa/C_signed.jpg"))
    manifest = next(f for f in findings if f.kind == "c2pa.manifest")
    assert manifest.details["validation_state"] == "Trusted"
