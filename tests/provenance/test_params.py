"""Generation-parameter parsers (provenance._params)."""

from __future__ import annotations

from deepguard.provenance._params import (
    parse_a1111,
    parse_comfy_prompt,
    parse_comfy_workflow,
    parse_invokeai,
    parse_json_object,
    parse_novelai,
    truncate,
)


def test_a1111_without_negative_prompt_and_multiline_prompt() -> None:
    text = "line one\nline two\nSteps: 8, Sampler: Euler a, Seed: 5, Size: 64x64"
    assert parse_a1111(text) == {
        "prompt": "line one\nline two",
        "negative_prompt": "",
        "Steps": "8",
        "Sampler": "Euler a",
        "Seed": "5",
        "Size": "64x64",
    }


def test_a1111_quoted_values_and_missing_params_line() -> None:
    parsed = parse_a1111('p\nSteps: 1, Hires prompt: "a, b", Version: f2.0.1')
    assert parsed is not None
    assert parsed["Hires prompt"] == "a, b"
    assert parsed["Version"] == "f2.0.1"
    assert parse_a1111("only a prompt") is None
    assert parse_a1111("") is None


def test_comfy_prompt_ignores_non_nodes_and_non_encoder_text() -> None:
    graph = {
        "1": {
            "class_type": "UNETLoader",
            "inputs": {"unet_name": "wan2.1.safetensors"},
        },
        "2": {
            "class_type": "KSamplerAdvanced",
            "inputs": {"noise_seed": 9, "text": "x"},
        },
        "3": {
            "class_type": "CLIPTextEncodeSDXL",
            "inputs": {"text_g": "g", "text_l": " "},
        },
        "extra": "not a node",
    }
    parsed = parse_comfy_prompt(graph)
    assert parsed["node_count"] == 3
    assert parsed["models"] == ["wan2.1.safetensors"]
    assert parsed["seeds"] == [9]
    assert parsed["prompts"] == ["g"]


def test_comfy_workflow_without_nodes() -> None:
    assert parse_comfy_workflow({"version": 1}) == {
        "node_count": 0,
        "node_types": [],
        "models": [],
        "version": 1,
    }


def test_novelai_and_invokeai_pick_known_fields() -> None:
    assert parse_novelai({"prompt": "p", "seed": 1, "uc": "n", "noise": [1]}) == {
        "prompt": "p",
        "seed": 1,
        "negative_prompt": "n",
    }
    legacy = (
        '{"model_weights": "sd-1.5", '
        '"image": {"prompt": [{"prompt": "cat"}], "seed": 3}}'
    )
    assert parse_invokeai("sd-metadata", legacy) == {
        "model_weights": "sd-1.5",
        "seed": 3,
        "prompt": "cat",
    }
    assert parse_invokeai("invokeai_metadata", '{"model": "m", "steps": 4}') == {
        "steps": 4,
        "model": "m",
    }


def test_helpers() -> None:
    assert parse_json_object("[1]") is None
    assert parse_json_object("{") is None
    assert parse_json_object('{"a": 1}') == {"a": 1}
    assert parse_json_object("[" * 100_000) is None  # deep nesting is not a crash
    assert truncate("abcdef", 3) == "abc"
