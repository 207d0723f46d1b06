"""Integrity signatures in ``ReservedCode1`` (producer) and ``ReservedCode2``.

What is signed binds the label to the content without covering the label's
own bytes: a digest of the content apart from all metadata (each carrier's
``content_digest``), plus the fields the signer vouches for. So:

* editing the pixels, samples or text after labelling breaks the signature;
* changing the label's fields (a forged ``Label`` or producer) breaks it;
* the propagator rewriting the label to add its own fields does not break the
  producer's signature, because neither the content nor the producer's fields
  change. The propagator's signature covers the producer's signature as well,
  chaining the two.

Signatures by other systems (any ``ReservedCode`` that is not a deepguard
token) are reported as *unverifiable*, never as invalid.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from deepguard.labels.fields import AigcFields
from deepguard.labels.keys import TrustedKeys
from deepguard.labels.signing import PrivateKey, SignatureToken

__all__ = [
    "SignatureCheck",
    "SignatureStatus",
    "producer_message",
    "propagator_message",
    "sign_producer",
    "sign_propagator",
    "verify_signatures",
]

_DOMAIN = "deepguard-aigc-signature/1"


def producer_message(fields: AigcFields, digest: str) -> bytes:
    """The bytes a producer signs."""
    lines = [
        _DOMAIN,
        "role=producer",
        f"Label={fields.label}",
        f"ContentProducer={fields.content_producer}",
        f"ProduceID={fields.produce_id}",
        f"content=sha256:{digest}",
    ]
    return "\n".join(lines).encode("ascii")


def propagator_message(fields: AigcFields, digest: str) -> bytes:
    """The bytes a propagator signs: its fields, the producer's, and theirs."""
    lines = [
        _DOMAIN,
        "role=propagator",
        f"Label={fields.label}",
        f"ContentProducer={fields.content_producer}",
        f"ProduceID={fields.produce_id}",
        f"ReservedCode1={fields.reserved_code1}",
        f"ContentPropagator={fields.content_propagator}",
        f"PropagateID={fields.propagate_id}",
        f"content=sha256:{digest}",
    ]
    return "\n".join(lines).encode("ascii")


def sign_producer(fields: AigcFields, digest: str, key: PrivateKey) -> AigcFields:
    """``fields`` with ``ReservedCode1`` set to the producer's signature."""
    return fields.replace(reserved_code1=key.sign(producer_message(fields, digest)))


def sign_propagator(fields: AigcFields, digest: str, key: PrivateKey) -> AigcFields:
    """``fields`` with ``ReservedCode2`` set to the propagator's signature."""
    return fields.replace(reserved_code2=key.sign(propagator_message(fields, digest)))


class SignatureStatus(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    """A deepguard signature that does not verify: edited content or forgery."""
    UNKNOWN_KEY = "unknown_key"
    """Well-formed, but no trusted key for this provider code and key id."""
    UNSIGNED = "unsigned"
    UNVERIFIABLE = "unverifiable"
    """Integrity data in a format deepguard does not know (another vendor's)."""


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome for one of the two integrity fields."""

    field: str
    role: str
    provider_code: str
    status: SignatureStatus
    algorithm: str | None = None
    kid: str | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "role": self.role,
            "provider_code": self.provider_code,
            "status": str(self.status),
            "algorithm": self.algorithm,
            "kid": self.kid,
            "reason": self.reason,
        }


def _check(
    field: str, role: str, code: str, value: str, message: bytes, trusted: TrustedKeys
) -> SignatureCheck:
    if not value:
        return SignatureCheck(field, role, code, SignatureStatus.UNSIGNED)
    token = SignatureToken.parse(value)
    if token is None:
        return SignatureCheck(
            field,
            role,
            code,
            SignatureStatus.UNVERIFIABLE,
            reason="integrity data is not in a format deepguard verifies",
        )
    key = trusted.find(code, token.kid)
    if key is None:
        return SignatureCheck(
            field,
            role,
            code,
            SignatureStatus.UNKNOWN_KEY,
            token.algorithm,
            token.kid,
            reason=f"no trusted {token.algorithm} key {token.kid} for {code}",
        )
    if key.algorithm != token.algorithm or not key.verify(token.signature, message):
        return SignatureCheck(
            field,
            role,
            code,
            SignatureStatus.INVALID,
            token.algorithm,
            token.kid,
            reason="signature does not match the content and label fields",
        )
    return SignatureCheck(
        field, role, code, SignatureStatus.VALID, token.algorithm, token.kid
    )


def verify_signatures(
    fields: AigcFields, digest: str, trusted: TrustedKeys
) -> list[SignatureCheck]:
    """Check ``ReservedCode1`` against the producer and ``ReservedCode2``
    against the propagator; an empty propagator code skips the second."""
    checks = [
        _check(
            "ReservedCode1",
            "producer",
            fields.content_producer,
            fields.reserved_code1,
            producer_message(fields, digest),
            trusted,
        )
    ]
    if fields.content_propagator or fields.reserved_code2:
        checks.append(
            _check(
                "ReservedCode2",
                "propagator",
                fields.content_propagator,
                fields.reserved_code2,
                propagator_message(fields, digest),
                trusted,
            )
        )
    return checks
