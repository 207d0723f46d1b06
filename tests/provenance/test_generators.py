"""The generator table and matching (provenance.generators)."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from deepguard.errors import ConfigError
from deepguard.provenance import generators
from deepguard.provenance.generators import (
    load_generators,
    match_generator,
    parse_table,
)

REQUIRED = [
    "DALL-E", "ChatGPT", "Midjourney", "Adobe Firefly", "Stable Diffusion", "Flux",
    "Ideogram", "Leonardo", "Doubao", "Jimeng", "Kling", "Hailuo", "Tongyi Wanxiang",
    "Wenxin Yige", "Sora", "Veo", "Imagen", "Gemini", "Runway", "Pika", "Luma",
    "HeyGen", "Synthesia", "ElevenLabs", "NovelAI", "InvokeAI", "ComfyUI",
    "AUTOMATIC1111", "Seedream", "Hunyuan", "Qwen-Image", "Grok", "Recraft", "Krea",
    "Suno", "Udio", "Vidu", "PixVerse",
]  # fmt: skip

POSITIVE = [
    ("Adobe Firefly", "Adobe Firefly"),
    ("Firefly Image 3", "Adobe Firefly"),
    ("Midjourney v6.1", "Midjourney"),
    ("DALL·E 3", "DALL-E"),
    ("DALL-E", "DALL-E"),
    ("dall-e-3", "DALL-E"),
    ("ChatGPT", "ChatGPT"),
    ("gpt-image-1", "ChatGPT"),
    ("OpenAI Sora", "Sora"),
    ("Sora", "Sora"),
    ("Stable Diffusion XL", "Stable Diffusion"),
    ("SDXL 1.0", "Stable Diffusion"),
    ("stable-diffusion-webui", "AUTOMATIC1111"),
    ("stable-diffusion-webui-forge", "Stable Diffusion WebUI Forge"),
    ("Flux", "Flux"),
    ("FLUX.1 [dev]", "Flux"),
    ("flux1-dev.safetensors", "Flux"),
    ("Black Forest Labs", "Flux"),
    ("Ideogram 3.0", "Ideogram"),
    ("Leonardo.Ai", "Leonardo"),
    ("Leonardo Phoenix", "Leonardo"),
    ("豆包AI", "Doubao"),
    ("豆包", "Doubao"),
    ("Doubao", "Doubao"),
    ("Seedream 4.0", "Seedream"),
    ("即梦AI", "Jimeng"),
    ("Dreamina", "Jimeng"),
    ("可灵", "Kling"),
    ("Kling 2.1 Master", "Kling"),
    ("海螺AI", "Hailuo"),
    ("Hailuo 02", "Hailuo"),
    ("MiniMax Video-01", "Hailuo"),
    ("通义万相", "Tongyi Wanxiang"),
    ("Wan2.2", "Tongyi Wanxiang"),
    ("文心一格", "Wenxin Yige"),
    ("Veo 3", "Veo"),
    ("Google Veo", "Veo"),
    ("Imagen 4", "Imagen"),
    ("Google Imagen", "Imagen"),
    ("Gemini", "Gemini"),
    ("Google Gemini", "Gemini"),
    ("Gemini 2.5 Flash Image", "Gemini"),
    ("Nano Banana", "Gemini"),
    ("Runway", "Runway"),
    ("RunwayML", "Runway"),
    ("Runway Gen-4 Turbo", "Runway"),
    ("Pika", "Pika"),
    ("Pika 2.2", "Pika"),
    ("Pika Labs", "Pika"),
    ("Luma AI", "Luma"),
    ("Dream Machine", "Luma"),
    ("HeyGen", "HeyGen"),
    ("Synthesia", "Synthesia"),
    ("ElevenLabs", "ElevenLabs"),
    ("Eleven Labs", "ElevenLabs"),
    ("NovelAI", "NovelAI"),
    ("InvokeAI 4.2", "InvokeAI"),
    ("ComfyUI", "ComfyUI"),
    ("混元", "Hunyuan"),
    ("HunyuanVideo", "Hunyuan"),
    ("Qwen-Image", "Qwen-Image"),
    ("Grok Imagine", "Grok"),
    ("Recraft V3", "Recraft"),
    ("Krea", "Krea"),
    ("Suno v4.5", "Suno"),
    ("Udio", "Udio"),
    ("Vidu Q1", "Vidu"),
    ("PixVerse V5", "PixVerse"),
]

NEGATIVE = [
    "Adobe Photoshop 25.0",
    "Adobe Lightroom 5.3 (Macintosh)",
    "GIMP 2.10",
    "Influx",
    "InfluxDB",
    "fluxbox",
    "f.lux",
    "Pikachu",
    "a pika on a rock",
    "Soraya",
    "Gemini constellation",
    "Project Gemini capsule",
    "fashion runway show",
    "Luma",
    "Lumberjack",
    "Veo Cam 2",
    "Imagen de la ciudad",
    "Leonardo",
    "Dalle",
    "豆包 recipe",
    "海螺汤",
    "Canon EOS REBEL T3",
    "Lavf62.12.102",
    "Panasonic DMC-ZS60",
    "",
]


def test_required_generators_are_in_the_table() -> None:
    names = {g.name for g in load_generators()}
    assert set(REQUIRED) <= names


def test_table_is_loaded_once() -> None:
    assert load_generators() is load_generators()


def test_every_entry_is_well_formed() -> None:
    for generator in load_generators():
        assert generator.vendor
        assert generator.kinds <= generators.KINDS
        assert generator.patterns
        assert all(p.flags & re.IGNORECASE for p in generator.patterns)


@pytest.mark.parametrize(("text", "name"), POSITIVE)
def test_positive_matches(text: str, name: str) -> None:
    match = match_generator(text)
    assert match is not None, text
    assert match.generator.name == name
    assert match.matched
    assert re.search(match.pattern, text, re.IGNORECASE)


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative_values_match_nothing(text: str) -> None:
    assert match_generator(text) is None


def brute_force(text: str) -> str | None:
    for generator in load_generators():
        if any(p.search(text) for p in generator.patterns):
            return generator.name
    return None


def test_prefilter_never_changes_the_answer() -> None:
    corpus = [t for t, _ in POSITIVE] + NEGATIVE
    corpus += [f"Made with {t} today" for t, _ in POSITIVE]
    corpus += [t.upper() for t, _ in POSITIVE] + [t.lower() for t, _ in POSITIVE]
    for text in corpus:
        match = match_generator(text)
        assert (match.generator.name if match else None) == brute_force(text), text


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        (r"\bMidjourney\b", "midjourney"),
        (r"^\s*Gemini\s*$", "gemini"),
        (r"\bDALL[·\-_ ?]E", "dall"),
        (r"\bFLUX\.\d", "flux."),
        (r"\bLuma[ \-]?(?:AI|Labs)\b", "luma"),
        (r"豆包(?:\s?AI|大模型)", "豆包"),
        (r"\bSD[ \-]?XL\b", None),
        (r"\bMidjourneys?\b", "midjourney"),
        (r"abc|def", None),
        (r"(?:x|y)abc", None),
    ],
)
def test_literal_prefix(pattern: str, needle: str | None) -> None:
    assert generators._literal_prefix(pattern) == needle


def table(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": 1, "generators": entries}


def entry(name: str = "X", **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "vendor": "V",
        "kinds": ["image"],
        "patterns": [r"\bX\b"],
    } | kw


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "expected an object"),
        (table([entry(), entry("x")]), "duplicate generator name 'x'"),
        (table([entry(patterns=["(unclosed"])]), "does not compile"),
        (table([entry(patterns=[])]), "non-empty list"),
        (table([entry(kinds=["text"])]), "'kinds' must be a subset"),
        (table([entry(vendor="")]), "non-empty 'name' and 'vendor'"),
        (table(["not an object"]), "is not an object"),
    ],
)
def test_invalid_tables_are_rejected(doc: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_table(doc)


def test_packaged_table_is_valid_json_in_priority_order() -> None:
    text = resources.files("deepguard.provenance").joinpath("generators.json")
    doc = json.loads(text.read_text(encoding="utf-8"))
    names = [g["name"] for g in doc["generators"]]
    # specific web UIs and model families come before the broad names they contain
    assert names.index("AUTOMATIC1111") < names.index("Stable Diffusion")
    assert names.index("Stable Diffusion WebUI Forge") < names.index("AUTOMATIC1111")
    assert names.index("Seedream") < names.index("Doubao")
    assert [g.name for g in parse_table(doc)] == names
