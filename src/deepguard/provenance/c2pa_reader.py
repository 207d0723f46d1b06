"""Read C2PA manifests offline with c2pa-python and report what they claim.

Why offline: c2pa-rs fetches remote manifests and OCSP responses over the
network by default. A scanner must not make network calls that a hostile
file controls (and tests must not make any), so fetching is always switched
off, also when the user supplies trust settings; a file that points to a
remote manifest is reported with its URL instead.

The manifest's own validation state (``Valid``, ``Trusted`` with the user's
trust anchors, ``Invalid``) is carried into every finding: an AI source
type in an invalid manifest is still evidence, with less confidence.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import c2pa

from deepguard.errors import ConfigError
from deepguard.provenance._sources import AI_CODES, SYNTHETIC_CODES, source_code
from deepguard.scan.finding import Finding

__all__ = ["OFFLINE_SETTINGS", "C2paReader", "supported_mime_types"]

OFFLINE_SETTINGS: Final[Mapping[str, Any]] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}
}
_REMOTE: Final = re.compile(r"remote manifests? from url\s+(\S+)", re.IGNORECASE)
_TRUSTWORTHY: Final = frozenset({"Valid", "Trusted"})
_CARRIER: Final = "c2pa"


@functools.cache
def supported_mime_types() -> frozenset[str]:
    """The MIME types c2pa-python can read (asked once per process)."""
    return frozenset(c2pa.Reader.get_supported_mime_types())


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(current, value)
        else:
            out[key] = value
    return out


def _load_trust(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"cannot read C2PA trust settings: {exc}"
        raise ConfigError(msg, path=path) from exc
    if not isinstance(doc, dict):
        msg = "C2PA trust settings must be a JSON object"
        raise ConfigError(msg, path=path)
    return doc


class C2paReader:
    """Turns the C2PA manifest store of a file into findings.

    The c2pa ``Context`` is native and cannot be pickled, so it is built on
    first use and dropped when the reader is sent to another process.
    """

    def __init__(self, trust_settings: Path | None = None, *, detector: str) -> None:
        """Prepare settings; ``trust_settings`` is a c2pa-rs settings JSON file.

        Raises:
            ConfigError: the trust settings file cannot be read.
        """
        base = _load_trust(trust_settings) if trust_settings is not None else {}
        self._settings = _merge(base, OFFLINE_SETTINGS)
        self._detector = detector
        self._context: c2pa.Context | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """The c2pa-rs settings in force (trust settings + offline switches)."""
        return copy.deepcopy(self._settings)

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self._settings, "detector": self._detector}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._settings = state["settings"]
        self._detector = state["detector"]
        self._context = None

    def _get_context(self) -> c2pa.Context:
        if self._context is None:
            self._context = c2pa.Context(
                settings=c2pa.Settings.from_dict(self._settings)
            )
        return self._context

    def read(self, path: Path, mime: str) -> list[Finding]:
        """Findings for the manifest store of ``path``; never raises for C2PA.

        No manifest means no findings; an unsupported MIME type is skipped.

        Raises:
            OSError: the file cannot be opened.
        """
        if mime not in supported_mime_types():
            return []
        try:
            with path.open("rb") as stream:
                reader = c2pa.Reader(mime, stream, context=self._get_context())
                with reader:
                    store = json.loads(reader.json())
                    state = reader.get_validation_state() or store.get(
                        "validation_state"
                    )
        except c2pa.C2paError.ManifestNotFound:
            return []
        except c2pa.C2paError as exc:
            return [self._error(exc)]
        except ValueError as exc:  # the manifest JSON itself is unreadable
            return [self._error(exc)]
        return list(self._store_findings(store, str(state or "Invalid")))

    def _finding(
        self, kind: str, confidence: float, summary: str, details: dict[str, Any]
    ) -> Finding:
        return Finding(
            detector=self._detector,
            kind=kind,
            confidence=confidence,
            summary=summary,
            details=details,
            where={"carrier": _CARRIER, "offset": None},
        )

    def _error(self, exc: Exception) -> Finding:
        message = " ".join(str(exc).split())
        remote = _REMOTE.search(message)
        if remote is not None or isinstance(exc, c2pa.C2paError.RemoteManifest):
            url = remote.group(1) if remote else None
            details = {"field": "c2pa.remote_manifest", "value": url, "url": url}
            summary = f"points to a remote C2PA manifest (not fetched): {url}"
            return self._finding("c2pa.remote_manifest", 0.5, summary, details)
        details = {"field": "c2pa", "value": message, "error": _error_name(exc)}
        summary = f"has a C2PA manifest that cannot be read: {message}"
        return self._finding("c2pa.error", 0.5, summary, details)

    def _store_findings(
        self, store: Mapping[str, Any], state: str
    ) -> Iterator[Finding]:
        manifests = store.get("manifests") or {}
        label = store.get("active_manifest")
        active = manifests.get(label) or {}
        actions = list(_actions(manifests))
        confidence = 1.0 if state in _TRUSTWORTHY else 0.5
        signature = active.get("signature_info") or {}
        details = {
            "field": "c2pa.manifest",
            "value": label,
            "validation_state": state,
            "validation_failures": _failure_codes(store),
            "claim_generator": _claim_generator(active),
            "active_manifest": label,
            "signature_issuer": signature.get("issuer"),
            "signature_time": signature.get("time"),
            "actions": actions,
        }
        summary = f"carries a C2PA manifest ({state}) from {details['claim_generator']}"
        yield self._finding("c2pa.manifest", confidence, summary, details)
        for action in actions:
            code = source_code(action["digitalSourceType"] or "")
            if code in AI_CODES:
                kind, what = "c2pa.ai_source", "AI-generated"
            elif code in SYNTHETIC_CODES:
                kind, what = "c2pa.synthetic_source", "synthetic"
            else:
                continue
            details = {
                "field": "c2pa.actions.digitalSourceType",
                "value": action["digitalSourceType"],
                "manifest": action["manifest"],
                "action": action["action"],
                "digitalSourceType": action["digitalSourceType"],
                "softwareAgent": action["softwareAgent"],
                "validation_state": state,
            }
            summary = f"C2PA action {action['action']} declares {what} content ({code})"
            yield self._finding(kind, confidence, summary, details)


def _error_name(exc: Exception) -> str:
    """``Other`` for c2pa's private ``_C2paOther``; the class name otherwise."""
    name = type(exc).__name__.lstrip("_")
    return (
        name.removeprefix("C2pa")
        if name.startswith("C2pa") and name != "C2paError"
        else name
    )


def _actions(manifests: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every action of every manifest (ingredients included), in store order."""
    for label, manifest in manifests.items():
        for assertion in manifest.get("assertions") or []:
            if not str(assertion.get("label", "")).startswith("c2pa.actions"):
                continue
            data = assertion.get("data") or {}
            for action in data.get("actions") or []:
                if isinstance(action, dict):
                    yield {
                        "manifest": label,
                        "action": action.get("action"),
                        "digitalSourceType": action.get("digitalSourceType"),
                        "softwareAgent": _agent(action.get("softwareAgent")),
                    }


def _agent(agent: Any) -> str | None:
    """``softwareAgent`` is a string (actions v1) or {name, version} (v2)."""
    if isinstance(agent, dict):
        parts = [str(agent.get("name") or ""), str(agent.get("version") or "")]
        return " ".join(p for p in parts if p) or None
    return str(agent) if agent else None


def _claim_generator(manifest: Mapping[str, Any]) -> str | None:
    generator = manifest.get("claim_generator")
    if generator:
        return str(generator)
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        return _agent(info[0])
    return None


def _failure_codes(store: Mapping[str, Any]) -> list[str]:
    results = store.get("validation_results") or {}
    codes = [
        str(f.get("code"))
        for f in (results.get("activeManifest") or {}).get("failure") or []
    ]
    for delta in results.get("ingredientDeltas") or []:
        failures = (delta.get("validationDeltas") or {}).get("failure") or []
        codes.extend(str(f.get("code")) for f in failures)
    if not results:
        codes = [str(s.get("code")) for s in store.get("validation_status") or []]
    return codes
