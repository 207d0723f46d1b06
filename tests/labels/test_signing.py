"""Ed25519 and SM2 signatures, keys on disk and trust directories."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from deepguard.errors import ConfigError, Conflict, NotFound
from deepguard.labels.fields import AigcFields
from deepguard.labels.integrity import (
    SignatureStatus,
    sign_producer,
    sign_propagator,
    verify_signatures,
)
from deepguard.labels.keys import KeyStore, TrustedKeys
from deepguard.labels.signing import (
    ALGORITHMS,
    SignatureToken,
    generate_key,
    load_private_key,
    load_public_key_pem,
)

PRODUCER = "001191440300708461136T1XGW3"
PLATFORM = "0091110108MA01ABCDE9X120000"
DIGEST = "ab" * 32


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_verify_and_pem_round_trip(algorithm: str) -> None:
    key = generate_key(algorithm)
    token = SignatureToken.parse(key.sign(b"message"))
    assert token is not None and token.algorithm == algorithm
    public = load_public_key_pem(key.public_key.to_pem(), source="mem")
    assert public.kid == token.kid
    assert public.verify(token.signature, b"message")
    assert not public.verify(token.signature, b"messagf")
    again = load_private_key(key.to_pem(), source="mem")
    assert again.public_key.raw == key.public_key.raw


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_token_fits_the_label_character_rule(algorithm: str) -> None:
    token = generate_key(algorithm).sign(b"x")
    assert all(0x21 <= ord(c) <= 0x7E and c not in '"\\' for c in token)


def _der_signature(raw: bytes) -> bytes:
    def integer(value: bytes) -> bytes:
        value = value.lstrip(b"\0") or b"\0"
        if value[0] & 0x80:
            value = b"\0" + value
        return b"\x02" + bytes([len(value)]) + value

    body = integer(raw[:32]) + integer(raw[32:])
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_sm2_signature_verifies_with_openssl(tmp_path: Path) -> None:
    """An independent SM3withSM2 implementation accepts our keys and signatures."""
    key = generate_key("sm2")
    token = SignatureToken.parse(key.sign(b"GB 45438 label"))
    assert token is not None
    (tmp_path / "pub.pem").write_bytes(key.public_key.to_pem())
    (tmp_path / "sig.der").write_bytes(_der_signature(token.signature))
    (tmp_path / "msg").write_bytes(b"GB 45438 label")
    result = subprocess.run(
        ["openssl", "dgst", "-sm3", "-verify", "pub.pem", "-sigopt",
         "distid:1234567812345678", "-signature", "sig.der", "msg"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if "unknown" in result.stderr.lower() or "unsupported" in result.stderr.lower():
        pytest.skip(f"this openssl has no SM2/SM3: {result.stderr.strip()}")
    assert result.stdout.strip() == "Verified OK", result.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_ed25519_public_key_is_standard_pem(tmp_path: Path) -> None:
    (tmp_path / "pub.pem").write_bytes(generate_key().public_key.to_pem())
    result = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", "pub.pem", "-noout", "-text"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "ED25519 Public-Key" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "text",
    ["", "ed25519.zz.abc", "rsa.0123456789abcdef.AAAAAAAAAAAAAAAAAAAA", "x" * 300],
)
def test_foreign_tokens_are_not_parsed(text: str) -> None:
    assert SignatureToken.parse(text) is None


def test_bad_key_material_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a PEM public key"):
        load_public_key_pem(b"hello", source="k.pem")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n", source="k.pem")
    with pytest.raises(ConfigError, match="unknown signature algorithm"):
        generate_key("rsa")


def test_key_store_create_list_export(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    ed = store.create(PRODUCER)
    sm = store.create(PRODUCER, algorithm="sm2", name="producer-sm2")
    assert [k.name for k in store.list()] == sorted([ed.name, "producer-sm2"])
    assert (tmp_path / "keys" / f"{ed.name}.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(Conflict):
        store.create(PRODUCER, name="producer-sm2")
    with pytest.raises(NotFound):
        store.info("nope")
    trust = tmp_path / "trust"
    out = store.export_public(sm.kid, trust)
    assert out.name == f"{PRODUCER}.{sm.kid}.pem"
    assert b"PRIVATE" not in out.read_bytes()
    keys = TrustedKeys.from_directory(trust)
    assert keys.find(PRODUCER, sm.kid) is not None
    assert keys.find(PLATFORM, sm.kid) is None  # keyed by provider code


def test_trust_directory_lists_bad_files_and_reads_code_folders(tmp_path: Path) -> None:
    key = generate_key()
    (tmp_path / PLATFORM).mkdir()
    (tmp_path / PLATFORM / "current.pem").write_bytes(key.public_key.to_pem())
    (tmp_path / "broken.pem").write_text("garbage")
    keys = TrustedKeys.from_directory(tmp_path)
    assert keys.find(PLATFORM, key.public_key.kid) is not None
    assert len(keys.problems) == 1 and "broken.pem" in keys.problems[0]
    with pytest.raises(ConfigError):
        TrustedKeys.from_directory(tmp_path / "missing")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_producer_and_propagator_signatures_chain(algorithm: str) -> None:
    producer, platform = generate_key(algorithm), generate_key()
    trusted = TrustedKeys.empty()
    trusted.add(PRODUCER, producer.public_key)
    trusted.add(PLATFORM, platform.public_key)
    fields = sign_producer(
        AigcFields(label="1", content_producer=PRODUCER, produce_id="p1"),
        DIGEST,
        producer,
    )
    checks = verify_signatures(fields, DIGEST, trusted)
    assert [c.status for c in checks] == [SignatureStatus.VALID]
    propagated = sign_propagator(
        fields.replace(content_propagator=PLATFORM, propagate_id="u9"),
        DIGEST,
        platform,
    )
    statuses = [c.status for c in verify_signatures(propagated, DIGEST, trusted)]
    assert statuses == [SignatureStatus.VALID, SignatureStatus.VALID]
    # Edited content breaks both; a forged Label breaks both.
    edited = [c.status for c in verify_signatures(propagated, "cd" * 32, trusted)]
    assert edited == [SignatureStatus.INVALID, SignatureStatus.INVALID]
    forged = propagated.replace(label="3")
    assert {c.status for c in verify_signatures(forged, DIGEST, trusted)} == {
        SignatureStatus.INVALID
    }


def test_unknown_unsigned_and_foreign_integrity_data() -> None:
    fields = AigcFields(label="1", content_producer=PRODUCER, produce_id="p1")
    assert verify_signatures(fields, DIGEST, TrustedKeys.empty())[0].status is (
        SignatureStatus.UNSIGNED
    )
    signed = sign_producer(fields, DIGEST, generate_key())
    check = verify_signatures(signed, DIGEST, TrustedKeys.empty())[0]
    assert check.status is SignatureStatus.UNKNOWN_KEY
    foreign = fields.replace(reserved_code1="SM3withSM2:3045022100ab")
    check = verify_signatures(foreign, DIGEST, TrustedKeys.empty())[0]
    assert check.status is SignatureStatus.UNVERIFIABLE
