"""C2PA signing of AI-generated content (labels.c2pa_sign), read back offline."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import multiprocessing
import random
import socket
import struct
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from deepguard.config import Limits, Settings
from deepguard.errors import (
    ConfigError,
    CorruptMedia,
    DeepguardError,
    DependencyError,
    ManifestInvalid,
    MediaError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.c2pa_sign import (
    AI_SOURCE_TYPE,
    AIGC_ASSERTION_LABEL,
    C2paSigningAlg,
    C2paSigningConfig,
    SoftBinding,
    c2pa_format,
    sign_c2pa,
)
from deepguard.provenance.c2pa_reader import C2paReader
from deepguard.scan import ScanOptions, scan_paths
from media_factory import write_audio, write_image, write_mp4, write_video

AIGC = {
    "AIGC": {
        "Label": "1",
        "ContentProducer": "001191440300708461136T1XGW3",
        "ProduceID": "20250901-0001",
        "ReservedCode1": "",
        "ContentPropagator": "001191440300708461136T1XGW3",
        "PropagateID": "20250901-0001",
        "ReservedCode2": "",
    }
}
AIGC_JSON = json.dumps(AIGC, separators=(",", ":"))
WATERMARK = SoftBinding("org.deepguard.watermark.1", b"\x8a\x01deepguard-mark")


# --- fixtures and helpers -------------------------------------------------------


@pytest.fixture(scope="session")
def c2pa_dir(shared_data: Path) -> Path:
    folder = shared_data / "c2pa"
    if not folder.is_dir():
        pytest.skip("../shared/data/c2pa is absent")
    return folder


@pytest.fixture(scope="session")
def es256(c2pa_dir: Path) -> C2paSigningConfig:
    return C2paSigningConfig(
        c2pa_dir / "es256_certs.pem", c2pa_dir / "es256_private.key"
    )


@pytest.fixture
def no_credentials(tmp_path: Path) -> C2paSigningConfig:
    """Credentials that do not exist: input checks come before loading them."""
    return C2paSigningConfig(tmp_path / "absent.pem", tmp_path / "absent.key")


@pytest.fixture(scope="session")
def trust_settings(c2pa_dir: Path) -> Path:
    return c2pa_dir / "trust_config_test_settings.json"


@dataclass(frozen=True)
class Store:
    """A signed file's manifest store as an offline c2pa reader sees it."""

    state: str
    active: str
    manifests: dict[str, Any]

    @property
    def manifest(self) -> dict[str, Any]:
        return dict(self.manifests[self.active])

    def assertion(self, label: str) -> Any:
        found = [a for a in self.manifest["assertions"] if a["label"] == label]
        assert len(found) == 1, f"{label}: {[a['label'] for a in found]}"
        return found[0]["data"]

    def labels(self) -> list[str]:
        return [a["label"] for a in self.manifest["assertions"]]


@pytest.fixture(scope="session")
def read_store(trust_settings: Path) -> Callable[..., Store]:
    """Read a file's store with the reader's offline settings (+ trust)."""
    trusted = C2paReader(trust_settings, detector="t").settings
    untrusted = C2paReader(detector="t").settings

    def read(path: Path, mime: str, *, trust: bool = True) -> Store:
        settings = trusted if trust else untrusted
        context = c2pa.Context(settings=c2pa.Settings.from_dict(settings))
        with path.open("rb") as fh, c2pa.Reader(mime, fh, context=context) as reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state()
        return Store(str(state), store["active_manifest"], store["manifests"])

    return read


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decoded(path: Path) -> str:
    """A digest of the decoded pixels or samples: equal iff content is equal."""
    digest = hashlib.sha256()
    try:
        with Image.open(path) as image:
            image.load()
            digest.update(np.asarray(image.convert("RGBA")).tobytes())
            return digest.hexdigest()
    except OSError:
        pass
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            digest.update(frame.to_ndarray().tobytes())
    return digest.hexdigest()


def no_leftovers(folder: Path) -> list[str]:
    """Temporary files a failed write left behind (none, ever)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def pem_key(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def self_signed(key: ec.EllipticCurvePrivateKey, *, days: tuple[int, int]) -> bytes:
    """A self-signed certificate valid from ``days[0]`` to ``days[1]`` from now."""
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test signer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


GeneratedMaker = Callable[[Path], Path]
GENERATED: dict[str, tuple[str, GeneratedMaker]] = {
    "jpeg": ("image/jpeg", lambda d: write_image(d / "gen.jpg", "JPEG", quality=90)),
    "png": ("image/png", lambda d: write_image(d / "gen.png", "PNG")),
    "mp4": ("video/mp4", lambda d: write_video(d / "gen.mp4")),
    "mp4-tagged": (
        "video/mp4",
        lambda d: write_mp4(d / "tag.mp4", {"title": "t"}, handler="VideoHandler"),
    ),
    "wav": ("audio/wav", lambda d: write_audio(d / "gen.wav")),
    "mp3": ("audio/mpeg", lambda d: write_audio(d / "gen.mp3", codec="mp3")),
    "flac": ("audio/flac", lambda d: write_audio(d / "gen.flac", codec="flac")),
    "webp": ("image/webp", lambda d: write_image(d / "gen.webp", "WEBP")),
    "gif": ("image/gif", lambda d: write_image(d / "gen.gif", "GIF")),
    "tiff": ("image/tiff", lambda d: write_image(d / "gen.tif", "TIFF")),
}


# --- signing generated media ------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(GENERATED))
def test_generated_media_signs_and_reads_back_trusted(
    tmp_path: Path,
    es256: C2paSigningConfig,
    read_store: Callable[..., Store],
    kind: str,
) -> None:
    mime, make = GENERATED[kind]
    src = make(tmp_path)
    before, content = sha256(src), decoded(src)
    dst = tmp_path / "out" / f"signed{src.suffix}"

    result = sign_c2pa(
        src, dst, signing=es256, aigc_json=AIGC_JSON, soft_binding=WATERMARK
    )

    assert sha256(src) == before
    assert decoded(dst) == content
    assert result.dst == dst
    assert result.format == mime == c2pa_format(mime)
    assert result.parent is None
    store = read_store(dst, mime)
    assert store.state == "Trusted"
    assert result.manifest_label == store.active
    assert set(result.assertions) <= set(store.labels())
    assert AIGC_ASSERTION_LABEL in result.assertions
    (action,) = store.assertion("c2pa.actions.v2")["actions"]
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == AI_SOURCE_TYPE
    assert action["softwareAgent"]["name"] == "deepguard"
    assert store.assertion(AIGC_ASSERTION_LABEL) == AIGC
    binding = store.assertion("c2pa.soft-binding")
    assert binding["alg"] == WATERMARK.alg
    (block,) = binding["blocks"]
    assert block["scope"] == {}
    assert base64.b64decode(block["value"]) == WATERMARK.value
    assert store.manifest.get("thumbnail") is None  # pixels are never decoded
    assert no_leftovers(dst.parent) == []


def test_without_trust_anchors_the_manifest_is_valid(
    tmp_path: Path, es256: C2paSigningConfig, read_store: Callable[..., Store]
) -> None:
    src = write_image(tmp_path / "a.png", "PNG")
    sign_c2pa(src, tmp_path / "b.png", signing=es256, aigc_json=AIGC_JSON)
    assert read_store(tmp_path / "b.png", "image/png", trust=False).state == "Valid"


def test_optional_parts_are_left_out(
    tmp_path: Path, es256: C2paSigningConfig, read_store: Callable[..., Store]
) -> None:
    src = write_image(tmp_path / "a.jpg", "JPEG")
    dst = tmp_path / "b.jpg"
    result = sign_c2pa(
        src, dst, signing=es256, aigc_json=None, title="生成图像.jpg",
        claim_generator="studio/2.1",
    )  # fmt: skip
    store = read_store(dst, "image/jpeg")
    assert store.labels() == ["c2pa.actions.v2"] == list(result.assertions)
    assert store.manifest["title"] == "生成图像.jpg"
    assert store.manifest["claim_generator_info"][0]["name"] == "studio"
    assert store.manifest["claim_generator_info"][0]["version"] == "2.1"


def test_aigc_members_round_trip_whatever_their_order(
    tmp_path: Path, es256: C2paSigningConfig, read_store: Callable[..., Store]
) -> None:
    fields = dict(reversed(list(AIGC["AIGC"].items())))
    fields["Extra"] = '"quoted"&<>'
    text = json.dumps({"AIGC": fields}, ensure_ascii=False, indent=2)
    src = write_image(tmp_path / "a.png", "PNG")
    sign_c2pa(src, tmp_path / "b.png", signing=es256, aigc_json=text)
    data = read_store(tmp_path / "b.png", "image/png").assertion(AIGC_ASSERTION_LABEL)
    assert data == json.loads(text)


@pytest.mark.parametrize(
    ("cert", "key", "alg"),
    [
        ("es256_certs.pem", "es256_private.key", "es256"),
        ("ed25519.pub", "ed25519.pem", "ed25519"),
        ("ps256.pub", "ps256.pem", C2paSigningAlg.PS256),
    ],
)
def test_every_test_credential_signs_trusted(
    tmp_path: Path,
    c2pa_dir: Path,
    read_store: Callable[..., Store],
    cert: str,
    key: str,
    alg: str,
) -> None:
    config = C2paSigningConfig(c2pa_dir / cert, c2pa_dir / key, alg)  # type: ignore[arg-type]
    assert config.alg is C2paSigningAlg(str(alg))
    src = write_image(tmp_path / "a.jpg", "JPEG")
    sign_c2pa(src, tmp_path / "b.jpg", signing=config, aigc_json=AIGC_JSON)
    assert read_store(tmp_path / "b.jpg", "image/jpeg").state == "Trusted"


def test_signing_in_place_replaces_the_file_atomically(
    tmp_path: Path, es256: C2paSigningConfig, read_store: Callable[..., Store]
) -> None:
    path = write_image(tmp_path / "a.png", "PNG")
    content = decoded(path)
    sign_c2pa(path, path, signing=es256, aigc_json=AIGC_JSON)
    assert decoded(path) == content
    assert read_store(path, "image/png").state == "Trusted"
    assert no_leftovers(tmp_path) == []


def test_ooxml_document_is_signed(
    tmp_path: Path, es256: C2paSigningConfig, read_store: Callable[..., Store]
) -> None:
    src = tmp_path / "report.docx"
    with zipfile.ZipFile(src, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"/>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
    dst = tmp_path / "signed.docx"
    result = sign_c2pa(src, dst, signing=es256, aigc_json=AIGC_JSON)
    assert read_store(dst, result.format).state == "Trusted"
    with zipfile.ZipFile(dst) as archive:
        assert archive.read("word/document.xml") == b"<w:document/>"


# --- shared media -----------------------------------------------------------------

SHARED_MEDIA = [
    "IMG_0003.jpg",
    "P1000827.jpg",
    "TUSCANY.TIF",
    "earth_apollo17.jpg",
    "libpng-test.png",
    "mars.webp",
    "sample1.avif",
    "sample1.gif",
    "sample1.heic",
    "sample1.heif",
    "sample1.m4a",
    "sample1.mp3",
    "sample1.png",
    "sample1.webp",
    "test.avi",
    "test.webp",
    "test_lossless.webp",
    "test_xmp.webp",
    "thumbnail.jpg",
]
# Files that already carry C2PA provenance: it becomes the parent ingredient.
WITH_PROVENANCE = ["legacy.mp4", "video1.mp4", "pdf-file.pdf", "cloudx.jpg"]


def _sign_shared(
    tmp_path: Path, src: Path, es256: C2paSigningConfig
) -> tuple[Path, str, Any]:
    before = sha256(src)
    dst = tmp_path / f"signed-{src.name}"
    result = sign_c2pa(
        src, dst, signing=es256, aigc_json=AIGC_JSON, soft_binding=WATERMARK
    )
    assert sha256(src) == before
    return dst, result.format, result


@pytest.mark.parametrize("name", SHARED_MEDIA)
def test_shared_media_signs_trusted(
    tmp_path: Path,
    shared_data: Path,
    es256: C2paSigningConfig,
    read_store: Callable[..., Store],
    name: str,
) -> None:
    src = shared_data / "media" / name
    dst, fmt, result = _sign_shared(tmp_path, src, es256)
    store = read_store(dst, fmt)
    assert store.state == "Trusted"
    assert result.parent is None
    (action,) = store.assertion("c2pa.actions.v2")["actions"]
    assert (action["action"], action["digitalSourceType"]) == (
        "c2pa.created",
        AI_SOURCE_TYPE,
    )
    assert store.assertion(AIGC_ASSERTION_LABEL) == AIGC
    assert store.assertion("c2pa.soft-binding")["alg"] == WATERMARK.alg
    if fmt.startswith("image/") and fmt not in ("image/heic", "image/heif"):
        assert decoded(dst) == decoded(src)


@pytest.mark.parametrize("name", WITH_PROVENANCE)
def test_earlier_provenance_is_kept_as_the_parent_ingredient(
    tmp_path: Path,
    shared_data: Path,
    es256: C2paSigningConfig,
    read_store: Callable[..., Store],
    name: str,
) -> None:
    src = shared_data / "media" / name
    dst, fmt, result = _sign_shared(tmp_path, src, es256)
    store = read_store(dst, fmt)
    assert store.state == "Trusted"
    assert result.parent is not None
    (action,) = store.assertion("c2pa.actions.v2")["actions"]
    assert action["action"] == "c2pa.opened"
    assert action["digitalSourceType"] == AI_SOURCE_TYPE
    (parent,) = store.manifest["ingredients"]
    assert parent["relationship"] == "parentOf"
    if result.parent.startswith("http"):  # a remote manifest cannot be fetched
        assert result.parent in dst.read_bytes().decode("latin-1")
    else:
        assert parent["active_manifest"] == result.parent
        assert result.parent in store.manifests


def test_already_signed_file_keeps_its_manifest(
    tmp_path: Path,
    c2pa_dir: Path,
    es256: C2paSigningConfig,
    read_store: Callable[..., Store],
) -> None:
    src = c2pa_dir / "C_signed.jpg"
    old = read_store(src, "image/jpeg")
    dst, _, result = _sign_shared(tmp_path, src, es256)
    new = read_store(dst, "image/jpeg")
    assert result.parent == old.active
    assert new.manifests[old.active]["label"] == old.active
    assert new.active != old.active
    assert decoded(dst) == decoded(src)


def test_unreadable_earlier_manifest_is_not_discarded(
    tmp_path: Path, shared_data: Path, es256: C2paSigningConfig
) -> None:
    src = shared_data / "media" / "prerelease.jpg"
    with pytest.raises(ManifestInvalid, match="signing would discard it") as info:
        sign_c2pa(src, tmp_path / "x.jpg", signing=es256, aigc_json=AIGC_JSON)
    assert str(info.value).startswith(f"{src}: ")
    assert list(tmp_path.iterdir()) == []


# --- the scanner sees the label -------------------------------------------------


def test_scan_reports_the_signed_file_as_ai_generated(
    tmp_path: Path, es256: C2paSigningConfig, trust_settings: Path
) -> None:
    src = write_image(tmp_path / "a.jpg", "JPEG")
    dst = tmp_path / "signed.jpg"
    sign_c2pa(src, dst, signing=es256, aigc_json=AIGC_JSON)
    settings = Settings(c2pa_trust_settings=trust_settings, home=tmp_path / "home")
    options = ScanOptions(metadata_only=True, detector_names=("provenance",))
    signed, plain = scan_paths([dst, src], settings=settings, options=options)
    (finding,) = [f for f in signed.findings if f.kind == "c2pa.ai_source"]
    assert finding.details["validation_state"] == "Trusted"
    assert finding.details["digitalSourceType"] == AI_SOURCE_TYPE
    assert signed.verdict.aigc_label == "1"
    assert any(r.startswith("c2pa.ai_source") for r in signed.verdict.reasons)
    assert plain.verdict.aigc_label is None


# --- credentials ------------------------------------------------------------------


def _assert_config_error(
    tmp_path: Path, src: Path, config: C2paSigningConfig, names: Path
) -> str:
    dst = tmp_path / "out" / "x.jpg"
    with pytest.raises(ConfigError) as info:
        sign_c2pa(src, dst, signing=config, aigc_json=AIGC_JSON)
    message = str(info.value)
    assert message.startswith(f"{names}: "), message
    assert "\n" not in message
    assert not dst.exists()
    return message


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    return write_image(tmp_path / "a.jpg", "JPEG")


def test_missing_key_file(tmp_path: Path, jpeg: Path, es256: C2paSigningConfig) -> None:
    key = tmp_path / "nope.key"
    config = C2paSigningConfig(es256.cert_chain, key)
    assert "cannot read" in _assert_config_error(tmp_path, jpeg, config, key)


def test_key_of_another_certificate(
    tmp_path: Path, jpeg: Path, es256: C2paSigningConfig
) -> None:
    key = tmp_path / "other.key"
    key.write_bytes(pem_key(ec.generate_private_key(ec.SECP256R1())))
    config = C2paSigningConfig(es256.cert_chain, key)
    assert "does not match" in _assert_config_error(tmp_path, jpeg, config, key)


def test_key_of_the_wrong_type_for_the_algorithm(
    tmp_path: Path, jpeg: Path, c2pa_dir: Path
) -> None:
    key = c2pa_dir / "ed25519.pem"
    config = C2paSigningConfig(c2pa_dir / "es256_certs.pem", key, C2paSigningAlg.ES256)
    assert "secp256r1" in _assert_config_error(tmp_path, jpeg, config, key)
    p384 = C2paSigningConfig(
        c2pa_dir / "es256_certs.pem",
        c2pa_dir / "es256_private.key",
        "es384",  # type: ignore[arg-type]
    )
    _assert_config_error(tmp_path, jpeg, p384, p384.private_key)


@pytest.mark.parametrize(
    "content", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n"]
)
def test_malformed_certificate_chain(
    tmp_path: Path, jpeg: Path, es256: C2paSigningConfig, content: bytes
) -> None:
    cert = tmp_path / "bad.pem"
    cert.write_bytes(content)
    config = C2paSigningConfig(cert, es256.private_key)
    _assert_config_error(tmp_path, jpeg, config, cert)


@pytest.mark.parametrize(
    "content", [b"", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_malformed_key(
    tmp_path: Path, jpeg: Path, es256: C2paSigningConfig, content: bytes
) -> None:
    key = tmp_path / "bad.key"
    key.write_bytes(content)
    config = C2paSigningConfig(es256.cert_chain, key)
    _assert_config_error(tmp_path, jpeg, config, key)


def test_encrypted_key(tmp_path: Path, jpeg: Path, es256: C2paSigningConfig) -> None:
    loaded = serialization.load_pem_private_key(
        es256.private_key.read_bytes(), password=None
    )
    key = tmp_path / "enc.key"
    key.write_bytes(
        loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    config = C2paSigningConfig(es256.cert_chain, key)
    assert "encrypted" in _assert_config_error(tmp_path, jpeg, config, key)


def test_huge_key_file_is_refused_unread(
    tmp_path: Path, jpeg: Path, es256: C2paSigningConfig
) -> None:
    key = tmp_path / "huge.key"
    with key.open("wb") as fh:
        fh.truncate(64 * 1024**2)
    config = C2paSigningConfig(es256.cert_chain, key)
    assert "over" in _assert_config_error(tmp_path, jpeg, config, key)


def test_expired_certificate(tmp_path: Path, jpeg: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    cert, key = tmp_path / "old.pem", tmp_path / "old.key"
    cert.write_bytes(self_signed(private, days=(-30, -1)))
    key.write_bytes(pem_key(private))
    config = C2paSigningConfig(cert, key)
    assert "valid only" in _assert_config_error(tmp_path, jpeg, config, cert)


def test_certificate_c2pa_refuses(tmp_path: Path, jpeg: Path) -> None:
    # Valid dates and a matching key, but no C2PA signing profile (no EKU).
    private = ec.generate_private_key(ec.SECP256R1())
    cert, key = tmp_path / "plain.pem", tmp_path / "plain.key"
    cert.write_bytes(self_signed(private, days=(-1, 30)))
    key.write_bytes(pem_key(private))
    config = C2paSigningConfig(cert, key)
    assert "c2pa rejected" in _assert_config_error(tmp_path, jpeg, config, cert)


def test_bad_config_values(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    with pytest.raises(ConfigError, match="unknown C2PA signing algorithm"):
        C2paSigningConfig(cert, key, "rs1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="http"):
        C2paSigningConfig(cert, key, tsa_url="ftp://tsa")
    config = C2paSigningConfig(str(cert), str(key), "ED25519")  # type: ignore[arg-type]
    assert config.alg is C2paSigningAlg.ED25519
    assert config.cert_chain == cert


def test_unreachable_timestamp_authority(
    tmp_path: Path, jpeg: Path, es256: C2paSigningConfig
) -> None:
    with socket.socket() as sock:  # a local port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = C2paSigningConfig(
        es256.cert_chain, es256.private_key, tsa_url=f"http://127.0.0.1:{port}/"
    )
    with pytest.raises(DependencyError, match="timestamp authority"):
        sign_c2pa(jpeg, tmp_path / "x.jpg", signing=config, aigc_json=AIGC_JSON)
    assert not (tmp_path / "x.jpg").exists()


# --- bad input ------------------------------------------------------------------


def _truncated(tmp_path: Path, kind: str, keep: float) -> Path:
    _, make = GENERATED[kind]
    path = make(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: max(16, int(len(data) * keep))])
    return path


@pytest.mark.parametrize("kind", ["jpeg", "png", "wav", "mp4"])
def test_truncated_media_is_corrupt(
    tmp_path: Path, es256: C2paSigningConfig, kind: str
) -> None:
    # Headers are checked, entropy-coded JPEG data is not: cut inside them.
    src = _truncated(tmp_path, kind, 0.2 if kind == "jpeg" else 0.5)
    dst = tmp_path / "out" / "x"
    with pytest.raises((CorruptMedia, UnsupportedFormat)) as info:
        sign_c2pa(src, dst, signing=es256, aigc_json=AIGC_JSON)
    assert str(info.value).startswith(f"{src}: ")
    assert "\n" not in str(info.value)
    assert not dst.exists()
    assert no_leftovers(dst.parent) == []


def _hostile(tmp_path: Path) -> Iterator[Path]:
    png = write_image(tmp_path / "h.png", "PNG").read_bytes()
    wav = write_audio(tmp_path / "h.wav").read_bytes()
    mp4 = write_video(tmp_path / "h.mp4").read_bytes()
    jpeg = write_image(tmp_path / "h.jpg", "JPEG").read_bytes()
    cases = {
        "png-huge-chunk.png": png[:8] + struct.pack(">I", 0x7FFFFFFF) + png[12:],
        "mp4-huge-box.mp4": struct.pack(">I", 1)
        + b"ftyp"
        + struct.pack(">Q", 2**62)
        + mp4[16:],
        "wav-huge-riff.wav": wav[:4] + struct.pack("<I", 0xFFFFFFFF) + wav[8:40]
        + struct.pack("<I", 0xFFFFFFF0) + wav[44:],
        "jpeg-huge-segment.jpg": jpeg[:2] + b"\xff\xe1\xff\xff" + b"\0" * 10,
        "jpeg-header-only.jpg": jpeg[:3],
    }  # fmt: skip
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        yield path


def test_hostile_sizes_fail_cleanly(tmp_path: Path, es256: C2paSigningConfig) -> None:
    for src in _hostile(tmp_path):
        with pytest.raises((CorruptMedia, UnsupportedFormat)) as info:
            sign_c2pa(src, tmp_path / "o" / src.name, signing=es256, aigc_json=None)
        assert str(info.value).startswith(f"{src}: ")
    assert no_leftovers(tmp_path / "o") == []


@pytest.mark.parametrize("kind", ["jpeg", "png", "wav", "mp4", "webp", "tiff"])
def test_damaged_media_never_escapes_as_another_error(
    tmp_path: Path,
    es256: C2paSigningConfig,
    read_store: Callable[..., Store],
    kind: str,
) -> None:
    _, make = GENERATED[kind]
    original = make(tmp_path).read_bytes()
    rng = random.Random(kind)
    for i in range(25):
        data = bytearray(original)
        if i % 2:
            data = data[: rng.randrange(1, len(data))]
        else:
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(min(len(data), 512))] = rng.randrange(256)
        src = tmp_path / f"d{i}"
        src.write_bytes(bytes(data))
        dst = tmp_path / f"s{i}"
        try:
            result = sign_c2pa(src, dst, signing=es256, aigc_json=AIGC_JSON)
        except DeepguardError as exc:
            assert isinstance(exc, (CorruptMedia, UnsupportedFormat)), exc
            assert str(exc).startswith(f"{src}: ")
            assert not dst.exists()
        else:  # damage c2pa does not notice still yields a sound manifest
            assert read_store(dst, result.format).state == "Trusted"
    assert no_leftovers(tmp_path) == []


def test_empty_and_unknown_input(
    tmp_path: Path, no_credentials: C2paSigningConfig
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(CorruptMedia, match="empty"):
        sign_c2pa(empty, tmp_path / "x", signing=no_credentials, aigc_json=AIGC_JSON)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnsupportedFormat):
        sign_c2pa(blob, tmp_path / "x", signing=no_credentials, aigc_json=AIGC_JSON)
    with pytest.raises(MediaError, match="no such file"):
        sign_c2pa(
            tmp_path / "no.jpg", tmp_path / "x", signing=no_credentials, aigc_json=None
        )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"An AI wrote this text.\n"),
        ("clip.mkv", b"\x1a\x45\xdf\xa3" + b"\0" * 64),
        ("image.bmp", None),
    ],
)
def test_formats_c2pa_cannot_embed_in(
    tmp_path: Path, no_credentials: C2paSigningConfig, name: str, content: bytes | None
) -> None:
    src = tmp_path / name
    if content is None:
        write_image(src, "BMP")
    else:
        src.write_bytes(content)
    with pytest.raises(UnsupportedFormat, match="cannot be embedded") as info:
        sign_c2pa(src, tmp_path / "x", signing=no_credentials, aigc_json=AIGC_JSON)
    assert str(info.value).startswith(f"{src}: ")


def test_file_over_the_size_limit(
    tmp_path: Path, jpeg: Path, no_credentials: C2paSigningConfig
) -> None:
    with pytest.raises(MediaLimitExceeded) as info:
        sign_c2pa(
            jpeg, tmp_path / "x.jpg", signing=no_credentials, aigc_json=AIGC_JSON,
            limits=Limits(max_file_bytes=100),
        )  # fmt: skip
    assert info.value.limit == "max_file_bytes"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"AIGC": {"Label": "1", "Label": "2"}}', "duplicate key"),
        ('["AIGC"]', "must be a JSON object"),
        ('{"AIGC": {"n": NaN}}', "NaN"),
        ('{"AIGC": {"n": 1e999}}', "not finite"),
        ('{"AIGC": {"n": 123456789012345678901234567890}}', "too large"),
        ('{"AIGC": {"s": "\\ud800"}}', "surrogate"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"a":' * 40 + "1" + "}" * 40, "nested"),
    ],
)
def test_unstorable_aigc_json(
    tmp_path: Path,
    jpeg: Path,
    no_credentials: C2paSigningConfig,
    text: str,
    problem: str,
) -> None:
    with pytest.raises(ManifestInvalid, match=problem):
        sign_c2pa(jpeg, tmp_path / "x.jpg", signing=no_credentials, aigc_json=text)
    assert not (tmp_path / "x.jpg").exists()


def test_metadata_limits(
    tmp_path: Path, jpeg: Path, no_credentials: C2paSigningConfig
) -> None:
    limits = Limits(max_metadata_bytes=64)
    with pytest.raises(MediaLimitExceeded) as info:
        sign_c2pa(
            jpeg, tmp_path / "x.jpg", signing=no_credentials, aigc_json=AIGC_JSON,
            limits=limits,
        )  # fmt: skip
    assert info.value.limit == "max_metadata_bytes"
    big = SoftBinding("org.deepguard.watermark.1", b"\1" * 65)
    with pytest.raises(MediaLimitExceeded):
        sign_c2pa(
            jpeg, tmp_path / "x.jpg", signing=no_credentials, aigc_json=None,
            soft_binding=big, limits=limits,
        )  # fmt: skip
    with pytest.raises(ConfigError, match="empty"):
        sign_c2pa(
            jpeg, tmp_path / "x.jpg", signing=no_credentials, aigc_json=None,
            soft_binding=SoftBinding("org.deepguard.watermark.1", b""),
        )  # fmt: skip
    with pytest.raises(ConfigError, match="title"):
        sign_c2pa(
            jpeg,
            tmp_path / "x.jpg",
            signing=no_credentials,
            aigc_json=None,
            title="a\nb",
        )


def test_destination_that_is_a_directory(
    tmp_path: Path, jpeg: Path, no_credentials: C2paSigningConfig
) -> None:
    with pytest.raises(MediaError, match="directory") as info:
        sign_c2pa(jpeg, tmp_path, signing=no_credentials, aigc_json=AIGC_JSON)
    assert str(info.value).startswith(f"{tmp_path}: ")


# --- processes and threads --------------------------------------------------------


def _sign_in_child(args: tuple[Path, Path, C2paSigningConfig]) -> str:
    src, dst, config = args
    return sign_c2pa(src, dst, signing=config, aigc_json=AIGC_JSON).manifest_label


def test_signing_works_in_forked_workers_and_threads(
    tmp_path: Path,
    es256: C2paSigningConfig,
    read_store: Callable[..., Store],
) -> None:
    src = write_image(tmp_path / "a.png", "PNG")
    sign_c2pa(src, tmp_path / "parent.png", signing=es256, aigc_json=AIGC_JSON)
    fork = multiprocessing.get_context("fork")
    with fork.Pool(2) as pool:
        labels = pool.map(
            _sign_in_child, [(src, tmp_path / f"p{i}.png", es256) for i in range(2)]
        )
    with ThreadPoolExecutor(4) as threads:
        labels += threads.map(
            _sign_in_child, [(src, tmp_path / f"t{i}.png", es256) for i in range(8)]
        )
    assert len(set(labels)) == 10
    for path in [*tmp_path.glob("p?.png"), *tmp_path.glob("t?.png")]:
        assert read_store(path, "image/png").state == "Trusted"


def test_format_table_follows_the_installed_c2pa() -> None:
    assert c2pa_format("image/jpeg") == "image/jpeg"
    assert c2pa_format("video/x-matroska") is None
    assert c2pa_format("text/plain") is None
    signable = set(c2pa.Builder.get_supported_mime_types())
    for mime in ("image/png", "video/mp4", "audio/wav", "application/pdf"):
        assert c2pa_format(mime) in signable
