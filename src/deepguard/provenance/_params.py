"""Parse the generation parameters local image tools write into PNG text.

AUTOMATIC1111, Forge and SD.Next write ``parameters`` as prompt lines, an
optional ``Negative prompt:`` block and a last line of ``Key: value`` pairs;
ComfyUI writes its node graph as JSON (``prompt``: the executed graph,
``workflow``: the editor graph); NovelAI writes a JSON ``Comment``; InvokeAI
writes JSON under ``invokeai_metadata`` or ``sd-metadata``. The parsed
fields (prompt, seed, model ...) are evidence a reviewer can check against
the image; nothing here decides anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "MAX_TEXT",
    "parse_a1111",
    "parse_comfy_prompt",
    "parse_comfy_workflow",
    "parse_invokeai",
    "parse_json_object",
    "parse_novelai",
    "truncate",
]

MAX_TEXT: Final = 2000
"""Longest string copied into a finding (prompts can be very long)."""
_MAX_ITEMS: Final = 100
_PARAM: Final = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
"""One ``Key: value`` pair of the A1111 parameter line (A1111's own regex)."""
_NEGATIVE: Final = "Negative prompt:"
_MODEL_INPUTS: Final = frozenset(
    {
        "ckpt_name",
        "unet_name",
        "model_name",
        "lora_name",
        "vae_name",
        "clip_name",
        "clip_name1",
        "clip_name2",
        "control_net_name",
    }
)
_MODEL_FILE: Final = re.compile(r"\.(?:safetensors|ckpt|pt|pth|gguf|bin|sft)$", re.I)
_SEED_INPUTS: Final = frozenset({"seed", "noise_seed"})
_TEXT_INPUTS: Final = frozenset({"text", "text_g", "text_l"})


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit]


def parse_json_object(text: str) -> dict[str, Any] | None:
    """``text`` parsed as a JSON object, or None when it is not one."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def parse_a1111(text: str) -> dict[str, Any] | None:
    """Prompt, negative prompt and the ``Key: value`` parameters, or None.

    None when the text has no parameter line (``Steps: ...``), which is what
    every A1111-family writer ends with.
    """
    lines = text.strip().splitlines()
    if not lines or not lines[-1].lstrip().startswith("Steps:"):
        return None
    params: dict[str, Any] = {}
    for key, value in _PARAM.findall(lines[-1])[:_MAX_ITEMS]:
        params[key.strip()] = truncate(value.strip().strip('"'))
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for line in lines[:-1]:
        if line.startswith(_NEGATIVE):
            target = negative
            line = line[len(_NEGATIVE) :].strip()
        target.append(line)
    return {
        "prompt": truncate("\n".join(prompt).strip()),
        "negative_prompt": truncate("\n".join(negative).strip()),
        **params,
    }


def parse_comfy_prompt(graph: Mapping[str, Any]) -> dict[str, Any]:
    """Summary of a ComfyUI API graph: node types, models, seeds, prompts."""
    nodes = [n for n in graph.values() if isinstance(n, dict)]
    class_types: set[str] = set()
    models: set[str] = set()
    seeds: list[int] = []
    prompts: list[str] = []
    for node in nodes:
        class_type = str(node.get("class_type", ""))
        inputs = node.get("inputs")
        if class_type:
            class_types.add(class_type)
        if not isinstance(inputs, dict):
            continue
        if "TextEncode" not in class_type:
            inputs = {k: v for k, v in inputs.items() if k not in _TEXT_INPUTS}
        for key, value in inputs.items():
            if key in _MODEL_INPUTS and isinstance(value, str):
                models.add(value)
            elif key in _SEED_INPUTS and isinstance(value, int):
                seeds.append(value)
            elif key in _TEXT_INPUTS and isinstance(value, str) and value.strip():
                prompts.append(truncate(value))
    return {
        "node_count": len(nodes),
        "class_types": _first(sorted(class_types)),
        "models": _first(sorted(models)),
        "seeds": _first(seeds),
        "prompts": _first(prompts, 10),
    }


def parse_comfy_workflow(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """Summary of a ComfyUI editor workflow: node types and model files."""
    raw_nodes = workflow.get("nodes")
    nodes = (
        [n for n in raw_nodes if isinstance(n, dict)]
        if isinstance(raw_nodes, list)
        else []
    )
    types = sorted({str(n["type"]) for n in nodes if n.get("type")})
    models: set[str] = set()
    for node in nodes:
        widgets = node.get("widgets_values")
        if isinstance(widgets, list):
            models.update(
                w for w in widgets if isinstance(w, str) and _MODEL_FILE.search(w)
            )
    return {
        "node_count": len(nodes),
        "node_types": _first(types),
        "models": _first(sorted(models)),
        "version": workflow.get("version"),
    }


def parse_novelai(comment: Mapping[str, Any]) -> dict[str, Any]:
    """The NovelAI ``Comment`` JSON fields a reviewer needs."""
    out = _pick(
        comment, ("prompt", "steps", "seed", "sampler", "scale", "width", "height")
    )
    if isinstance(comment.get("uc"), str):
        out["negative_prompt"] = truncate(comment["uc"])
    return out


def parse_invokeai(keyword: str, text: str) -> dict[str, Any]:
    """The InvokeAI metadata fields (current and legacy ``sd-metadata``)."""
    obj = parse_json_object(text)
    if obj is None:
        return {"text": truncate(text)}  # legacy "Dream" command line
    if keyword == "sd-metadata" and isinstance(obj.get("image"), dict):
        out = _pick(obj, ("model", "model_weights", "model_hash", "app_version"))
        image = obj["image"]
        out.update(
            _pick(image, ("seed", "steps", "cfg_scale", "sampler", "width", "height"))
        )
        prompt = image.get("prompt")
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict):
            out["prompt"] = truncate(str(prompt[0].get("prompt", "")))
        return out
    out = _pick(
        obj,
        (
            "positive_prompt",
            "negative_prompt",
            "seed",
            "steps",
            "cfg_scale",
            "scheduler",
            "generation_mode",
            "app_version",
        ),
    )
    model = obj.get("model")
    if isinstance(model, dict):
        out["model"] = truncate(str(model.get("name") or model.get("model_name") or ""))
    elif isinstance(model, str):
        out["model"] = truncate(model)
    return out


def _pick(obj: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            out[key] = truncate(value)
        elif isinstance(value, (int, float, bool)):
            out[key] = value
    return out


def _first(values: list[Any], limit: int = _MAX_ITEMS) -> list[Any]:
    return values[:limit]
