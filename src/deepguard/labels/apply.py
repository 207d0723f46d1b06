"""The provider side: label a generated file before it leaves the service.

One call applies every label GB 45438 asks a provider for, in the order that
keeps each valid:

1. the explicit notice (re-encodes pixels or samples, so it comes first);
2. the invisible watermark (re-encodes too), whose payload names the producer
   and the content; its label record is stored so the label can be restored;
3. the implicit label, signed over the content as it now is;
4. the C2PA manifest, whose hard binding covers the bytes written before it
   and whose soft binding names the watermark.

Intermediate files live in a private temporary directory beside the output;
the output appears atomically and the input is never modified unless
``in_place`` is asked for.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepguard._atomic import output_path
from deepguard.config import Settings
from deepguard.errors import InvalidLabel
from deepguard.labels.display import jsonable
from deepguard.labels.fields import AigcFields
from deepguard.labels.implicit.registry import content_digest, write_label
from deepguard.labels.integrity import sign_producer
from deepguard.labels.keys import signing_key
from deepguard.store.interface import ILabelRecordStore
from deepguard.watermark.payload import Payload
from deepguard.watermark.recover import record_output

__all__ = ["SOFT_BINDING_ALG", "LabelOutcome", "label_file", "new_id"]

SOFT_BINDING_ALG = "org.deepguard.watermark.1"
"""The C2PA soft-binding algorithm name for deepguard's watermark payload."""


def new_id() -> str:
    """A fresh content identifier (32 hex digits, allowed in label values)."""
    return uuid.uuid4().hex


@dataclass(slots=True)
class LabelOutcome:
    """What ``label_file`` wrote."""

    source: Path
    output: Path
    fields: AigcFields | None = None
    signed_with: str | None = None
    explicit: dict[str, Any] | None = None
    watermark: dict[str, Any] | None = None
    c2pa: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "implicit": self.fields.to_dict() if self.fields else None,
            "signed_with": self.signed_with,
            "explicit": self.explicit,
            "watermark": self.watermark,
            "c2pa": self.c2pa,
            "notes": list(self.notes),
        }


def label_file(
    src: Path,
    *,
    settings: Settings,
    producer_code: str,
    produce_id: str | None = None,
    label: str = "1",
    out: Path | None = None,
    in_place: bool = False,
    implicit: bool = True,
    explicit: bool = False,
    watermark: bool = False,
    c2pa: bool = False,
    sign: bool | None = None,
    soft_binding: Any = None,
    records: ILabelRecordStore | None = None,
) -> LabelOutcome:
    """Label ``src`` as AI-generated content made by ``producer_code``.

    ``sign`` None signs when the key store has a key for the producer code;
    True requires one; False never signs. With ``watermark``, the label record
    goes to ``records`` so a scan can restore the label from the mark alone.

    Raises:
        ValueError: neither or both of ``out`` and ``in_place``.
        InvalidLabel: nothing to do, or the fields are not a compliant label.
        NotFound: ``sign=True`` and no key for the producer code.
        DeepguardError: the input cannot be read or labelled.
    """
    dst = output_path(src, out, in_place)
    if not (implicit or explicit or watermark or c2pa):
        raise InvalidLabel(
            "nothing to do: choose implicit, explicit, watermark and/or c2pa",
            path=src,
        )
    outcome = LabelOutcome(source=src, output=dst)
    fields = AigcFields(
        label=label, content_producer=producer_code, produce_id=produce_id or new_id()
    )
    problems = fields.problems()
    if problems:
        raise InvalidLabel(f"cannot write this label: {problems[0]}", path=src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".deepguard-", dir=dst.parent) as tmp:
        stage = src
        suffix = src.suffix
        if explicit:
            from deepguard.labels.display import render_notice

            nxt = Path(tmp) / f"explicit{suffix}"
            outcome.explicit = render_notice(
                stage, nxt, text=settings.labels.explicit_text, settings=settings
            )
            stage = nxt
        payload = Payload.for_content(producer_code, fields.produce_id)
        if watermark:
            from deepguard.watermark.files import embed_file_for

            nxt = Path(tmp) / f"watermark{suffix}"
            outcome.watermark = embed_file_for(stage, nxt, payload, settings).to_dict()
            stage = nxt
            if c2pa and soft_binding is None:
                from deepguard.labels.c2pa_sign import SoftBinding

                soft_binding = SoftBinding(
                    alg=SOFT_BINDING_ALG, value=payload.to_int().to_bytes(8, "big")
                )
        if implicit:
            key = signing_key(settings.keys_dir, producer_code, sign)
            if key is not None:
                info, private = key
                digest = content_digest(stage, limits=settings.limits)
                fields = sign_producer(fields, digest, private)
                outcome.signed_with = f"{info.algorithm}:{info.kid} ({info.name})"
            elif sign is None:
                outcome.notes.append(
                    f"implicit label not signed: no key for {producer_code} "
                    "(deepguard keys create)"
                )
            nxt = Path(tmp) / f"implicit{suffix}"
            write_label(stage, fields, out=nxt, limits=settings.limits)
            outcome.fields = fields
            stage = nxt
        if c2pa:
            from deepguard.labels.c2pa_sign import sign_c2pa

            nxt = Path(tmp) / f"c2pa{suffix}"
            result = sign_c2pa(
                stage,
                nxt,
                signing=_c2pa_config(settings, src),
                aigc_json=fields.to_json() if implicit else None,
                soft_binding=soft_binding,
                limits=settings.limits,
            )
            outcome.c2pa = jsonable(result)
            stage = nxt
        os.chmod(stage, 0o644)
        os.replace(stage, dst)
    if watermark and records is not None:
        record_output(records, payload, fields.to_dict(), dst)
    return outcome


def _c2pa_config(settings: Settings, src: Path) -> Any:
    from deepguard.errors import ConfigError
    from deepguard.labels.c2pa_sign import C2paSigningAlg, C2paSigningConfig

    cfg = settings.labels
    if cfg.c2pa_cert_chain is None or cfg.c2pa_private_key is None:
        raise ConfigError(
            "C2PA signing needs labels.c2pa_cert_chain and labels.c2pa_private_key "
            "in the configuration",
            path=src,
        )
    return C2paSigningConfig(
        cert_chain=cfg.c2pa_cert_chain,
        private_key=cfg.c2pa_private_key,
        alg=C2paSigningAlg.parse(cfg.c2pa_alg, path=cfg.c2pa_private_key),
        tsa_url=cfg.c2pa_tsa_url,
    )
