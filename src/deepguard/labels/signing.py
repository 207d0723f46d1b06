"""Signature algorithms for the ``ReservedCode1/2`` integrity fields.

Two algorithms behind one small interface: Ed25519 (``cryptography``), the
default, and SM2 with SM3 (``gmssl``), which the TC260 security guide names.
A signature travels as a compact token that fits the label's character rule
(0x21-0x7E without ``"`` or ``\\``)::

    <alg>.<kid>.<signature, base64url without padding>

``kid`` is the first 16 hex digits of SHA-256 over the raw public key, so a
verifier picks the right key when a provider rotates keys.

Public keys are exchanged as standard SubjectPublicKeyInfo PEM files. SM2
keys use the ``id-ecPublicKey`` / ``sm2p256v1`` (1.2.156.10197.1.301)
encoding that OpenSSL, GmSSL and Tongsuo read and write.
"""

from __future__ import annotations

import abc
import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from deepguard.errors import ConfigError

__all__ = [
    "ALGORITHMS",
    "PrivateKey",
    "PublicKey",
    "SignatureToken",
    "generate_key",
    "load_private_key",
    "load_public_key_pem",
]

_TOKEN = re.compile(r"^(ed25519|sm2)\.([0-9a-f]{16})\.([A-Za-z0-9_-]{16,200})$")
_SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(raw_public: bytes) -> str:
    """First 16 hex digits of SHA-256 over the raw public key."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SignatureToken:
    """A parsed ``<alg>.<kid>.<sig>`` token."""

    algorithm: str
    kid: str
    signature: bytes

    def encode(self) -> str:
        return f"{self.algorithm}.{self.kid}.{_b64(self.signature)}"

    @classmethod
    def parse(cls, text: str) -> SignatureToken | None:
        """The token, or ``None`` when ``text`` is not one of ours."""
        match = _TOKEN.match(text)
        if not match:
            return None
        try:
            signature = _unb64(match.group(3))
        except (binascii.Error, ValueError):
            return None
        return cls(match.group(1), match.group(2), signature)


class PublicKey(abc.ABC):
    """A verification key."""

    algorithm: ClassVar[str]

    @property
    @abc.abstractmethod
    def raw(self) -> bytes:
        """The raw public key (32 bytes Ed25519, 65 bytes uncompressed SM2)."""

    @property
    def kid(self) -> str:
        return key_id(self.raw)

    @abc.abstractmethod
    def verify(self, signature: bytes, message: bytes) -> bool: ...

    @abc.abstractmethod
    def to_pem(self) -> bytes: ...


class PrivateKey(abc.ABC):
    """A signing key."""

    algorithm: ClassVar[str]

    @property
    @abc.abstractmethod
    def public_key(self) -> PublicKey: ...

    @abc.abstractmethod
    def sign_raw(self, message: bytes) -> bytes: ...

    @abc.abstractmethod
    def to_pem(self) -> bytes: ...

    def sign(self, message: bytes) -> str:
        """A compact token for ``message``."""
        pub = self.public_key
        return SignatureToken(self.algorithm, pub.kid, self.sign_raw(message)).encode()


class Ed25519Public(PublicKey):
    algorithm = "ed25519"

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key

    @property
    def raw(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_pem(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Ed25519Private(PrivateKey):
    algorithm = "ed25519"

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @property
    def public_key(self) -> PublicKey:
        return Ed25519Public(self._key.public_key())

    def sign_raw(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _sm2(private_hex: str, public_raw: bytes) -> object:
    from gmssl import sm2

    return sm2.CryptSM2(private_key=private_hex, public_key=public_raw[1:].hex())


_SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


class Sm2Public(PublicKey):
    """SM2 public key (uncompressed point), verified as SM3withSM2."""

    algorithm = "sm2"

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("SM2 public key must be a 65-byte uncompressed point")
        self._raw = raw

    @property
    def raw(self) -> bytes:
        return self._raw

    def verify(self, signature: bytes, message: bytes) -> bool:
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < _SM2_N and 0 < s < _SM2_N):
            return False
        crypt = _sm2("", self._raw)
        try:
            return bool(crypt.verify_with_sm3(signature.hex(), message))  # type: ignore[attr-defined]
        except (ValueError, TypeError, IndexError):
            return False

    def to_pem(self) -> bytes:
        der = _SM2_SPKI_PREFIX + self._raw
        body = base64.encodebytes(der).decode("ascii").replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return (
            "-----BEGIN PUBLIC KEY-----\n"
            + "\n".join(lines)
            + "\n-----END PUBLIC KEY-----\n"
        ).encode("ascii")


class Sm2Private(PrivateKey):
    """SM2 private key; signs SM3withSM2 with the default user ID."""

    algorithm = "sm2"

    def __init__(self, secret: int) -> None:
        if not 0 < secret < _SM2_N - 1:
            raise ValueError("SM2 private key out of range")
        self._secret = secret
        from gmssl import sm2

        point = sm2.CryptSM2(private_key="", public_key="")._kg(
            secret, sm2.default_ecc_table["g"]
        )
        self._public = Sm2Public(b"\x04" + bytes.fromhex(point))

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign_raw(self, message: bytes) -> bytes:
        crypt = _sm2(f"{self._secret:064x}", self._public.raw)
        while True:
            # gmssl's default nonce uses the non-cryptographic ``random``.
            nonce = f"{secrets.randbelow(_SM2_N - 1) + 1:064x}"
            signature = crypt.sign_with_sm3(message, nonce)  # type: ignore[attr-defined]
            if signature:
                return bytes.fromhex(signature)

    def to_pem(self) -> bytes:
        body = f"{self._secret:064x}"
        return (
            "-----BEGIN DEEPGUARD SM2 PRIVATE KEY-----\n"
            f"{body}\n-----END DEEPGUARD SM2 PRIVATE KEY-----\n"
        ).encode("ascii")


ALGORITHMS: tuple[str, ...] = ("ed25519", "sm2")


def generate_key(algorithm: str = "ed25519") -> PrivateKey:
    """A new random key pair."""
    if algorithm == "ed25519":
        return Ed25519Private(Ed25519PrivateKey.generate())
    if algorithm == "sm2":
        return Sm2Private(secrets.randbelow(_SM2_N - 2) + 1)
    raise ConfigError(f"unknown signature algorithm {algorithm!r} (use ed25519 or sm2)")


def load_private_key(pem: bytes, *, source: str) -> PrivateKey:
    """Parse a private key written by :meth:`PrivateKey.to_pem`.

    Raises:
        ConfigError: the data is not a supported private key.
    """
    text = pem.decode("ascii", "replace")
    if "DEEPGUARD SM2 PRIVATE KEY" in text:
        body = "".join(
            line.strip() for line in text.splitlines() if not line.startswith("-----")
        )
        try:
            return Sm2Private(int(body, 16))
        except ValueError as exc:
            raise ConfigError(f"bad SM2 private key: {exc}", path=source) from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("not a PEM private key", path=source) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"unsupported private key type {type(key).__name__}", path=source
        )
    return Ed25519Private(key)


def load_public_key_pem(pem: bytes, *, source: str) -> PublicKey:
    """Parse a SubjectPublicKeyInfo PEM (Ed25519 or SM2).

    Raises:
        ConfigError: the data is not a supported public key.
    """
    lines = pem.decode("ascii", "replace").strip().splitlines()
    if not lines or "BEGIN PUBLIC KEY" not in lines[0]:
        raise ConfigError("not a PEM public key", path=source)
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("PEM public key is not valid base64", path=source) from exc
    if der.startswith(_SM2_SPKI_PREFIX) and len(der) == len(_SM2_SPKI_PREFIX) + 65:
        try:
            return Sm2Public(der[len(_SM2_SPKI_PREFIX) :])
        except ValueError as exc:
            raise ConfigError(str(exc), path=source) from exc
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise ConfigError("unsupported public key", path=source) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(
            f"unsupported public key type {type(key).__name__}", path=source
        )
    return Ed25519Public(key)
