"""Sign AI-generated content with a C2PA manifest (c2pa-python, offline).

C2PA is the international counterpart of the GB 45438 implicit label: a
signed manifest whose ``c2pa.actions`` declare the content was made by a
trained algorithm. :func:`sign_c2pa` writes one manifest that carries both:

* ``c2pa.actions.v2`` with ``c2pa.created`` and the IPTC digital source type
  ``trainedAlgorithmicMedia``; when the source already carries C2PA
  provenance, that store is kept as the ``parentOf`` ingredient and the action
  is ``c2pa.opened`` (with the same source type) instead, because claiming
  creation would be false and dropping the earlier manifest would remove a
  label, which GB 45438 forbids;
* the GB 45438 implicit label as the custom assertion ``cn.org.tc260.aigc``
  (see :data:`AIGC_ASSERTION_LABEL`);
* optionally ``c2pa.soft-binding``, naming the invisible watermark embedded
  in the content, so that a stripped manifest can be found again from it.

c2pa-rs embeds the manifest as JUMBF next to the content: pixels and samples
are never decoded or re-encoded. Claim thumbnails are switched off for the
same reason (making one decodes the image, which a decompression bomb turns
into an out-of-memory kill) and because a label needs no preview. Nothing
touches the network unless the caller configures a timestamp authority.

c2pa-rs tolerates some damage (an MP4 whose last box runs past the end of
the file signs happily), so the container headers are walked first with
deepguard's bounded parsers. Every failure is a one-line deepguard error
naming the file: bad credentials raise :class:`~deepguard.errors.ConfigError`,
formats c2pa cannot embed in :class:`~deepguard.errors.UnsupportedFormat`,
damaged input :class:`~deepguard.errors.CorruptMedia`.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import functools
import io
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import c2pa
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from deepguard import __version__
from deepguard._atomic import atomic_output
from deepguard.config import Limits
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
from deepguard.labels.fields import MAX_LABEL_BYTES
from deepguard.media.containers import Source, isobmff, jpeg, png, riff
from deepguard.media.containers._binary import translate_errors
from deepguard.media.probe import probe
from deepguard.provenance.c2pa_reader import OFFLINE_SETTINGS

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = [
    "ACTIONS_ASSERTION_LABEL",
    "AIGC_ASSERTION_LABEL",
    "AI_SOURCE_TYPE",
    "SOFT_BINDING_ASSERTION_LABEL",
    "C2paSignResult",
    "C2paSigningAlg",
    "C2paSigningConfig",
    "SoftBinding",
    "c2pa_format",
    "sign_c2pa",
]

AI_SOURCE_TYPE: Final = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
)
ACTIONS_ASSERTION_LABEL: Final = "c2pa.actions.v2"
SOFT_BINDING_ASSERTION_LABEL: Final = "c2pa.soft-binding"
AIGC_ASSERTION_LABEL: Final = "cn.org.tc260.aigc"
"""Label of the custom assertion holding the GB 45438 JSON.

C2PA wants entity-specific labels in reverse-domain form. The JSON schema
belongs to TC260, whose practice guides put the same document in XMP under
``http://www.tc260.org.cn/ns/AIGC/1.0/``; mirroring that domain gives readers
one owner to look for in either carrier. The data is the parsed label object.
"""

# probe MIME -> the format string c2pa-rs embeds by. Kept explicit so that a
# new probe result is never handed to c2pa untested; the table is further
# narrowed to what the installed c2pa library reports it can sign.
_C2PA_FORMATS: Final[Mapping[str, str]] = {
    "image/jpeg": "image/jpeg",
    "image/png": "image/png",
    "image/gif": "image/gif",
    "image/tiff": "image/tiff",
    "image/webp": "image/webp",
    "image/heic": "image/heic",
    "image/heif": "image/heif",
    "image/avif": "image/avif",
    "video/mp4": "video/mp4",
    "video/quicktime": "video/quicktime",
    "video/x-msvideo": "video/x-msvideo",
    "audio/mp4": "audio/mp4",
    "audio/wav": "audio/wav",
    "audio/mpeg": "audio/mpeg",
    "audio/flac": "audio/flac",
    "application/pdf": "application/pdf",
    **{
        f"application/vnd.openxmlformats-officedocument.{kind}": (
            f"application/vnd.openxmlformats-officedocument.{kind}"
        )
        for kind in (
            "wordprocessingml.document",
            "presentationml.presentation",
            "spreadsheetml.sheet",
        )
    },
}

_MAX_PEM_BYTES: Final = 1024 * 1024
_MAX_TEXT_CHARS: Final = 1024
_MAX_JSON_DEPTH: Final = 32
"""c2pa-rs refuses JSON nested deeper than 128 levels; a label needs 2."""
_REMOTE: Final = re.compile(r"remote manifests? from url\s+(\S+)", re.IGNORECASE)
_KIND_PREFIX: Final = re.compile(r"^[A-Z][A-Za-z]+: ")
_PARSE_FAILURE: Final = ("could not be parsed", "embedding error")
_PARENT_ID: Final = "parent"


class C2paSigningAlg(enum.StrEnum):
    """COSE signature algorithms c2pa-rs signs with; the key must match."""

    ES256 = "es256"
    ES384 = "es384"
    ES512 = "es512"
    PS256 = "ps256"
    PS384 = "ps384"
    PS512 = "ps512"
    ED25519 = "ed25519"

    @classmethod
    def parse(cls, name: str, *, path: Path | None = None) -> C2paSigningAlg:
        """The algorithm named ``name`` (any case).

        Raises:
            ConfigError: not an algorithm c2pa-rs signs with.
        """
        try:
            return cls(str(name).lower())
        except ValueError:
            known = ", ".join(a.value for a in cls)
            msg = f"unknown C2PA signing algorithm {name!r} (use one of {known})"
            raise ConfigError(msg, path=path) from None


_EC_CURVES: Final[Mapping[C2paSigningAlg, type[ec.EllipticCurve]]] = {
    C2paSigningAlg.ES256: ec.SECP256R1,
    C2paSigningAlg.ES384: ec.SECP384R1,
    C2paSigningAlg.ES512: ec.SECP521R1,
}
_RSA_ALGS: Final = frozenset(
    {C2paSigningAlg.PS256, C2paSigningAlg.PS384, C2paSigningAlg.PS512}
)


@dataclass(frozen=True, slots=True)
class C2paSigningConfig:
    """Where the signing credentials are, and how to sign.

    ``cert_chain`` is PEM, signing certificate first, then its intermediates;
    ``private_key`` is an unencrypted PEM key matching that certificate.
    ``tsa_url`` names an RFC 3161 timestamp authority; it is the only thing
    that makes signing go online, so it is off unless set.
    """

    cert_chain: Path
    private_key: Path
    alg: C2paSigningAlg = C2paSigningAlg.ES256
    tsa_url: str | None = None

    def __post_init__(self) -> None:
        alg = C2paSigningAlg.parse(self.alg, path=self.private_key)
        object.__setattr__(self, "alg", alg)
        object.__setattr__(self, "cert_chain", Path(self.cert_chain))
        object.__setattr__(self, "private_key", Path(self.private_key))
        url = self.tsa_url
        if url is not None and not re.fullmatch(r"https?://[^\s]+", url):
            msg = f"timestamp authority URL must be http(s): {url!r}"
            raise ConfigError(msg, path=self.cert_chain)


@dataclass(frozen=True, slots=True)
class SoftBinding:
    """The watermark embedded in the content, recorded as ``c2pa.soft-binding``.

    ``alg`` names the watermark algorithm (for deepguard's own mark
    ``org.deepguard.watermark.1``); ``value`` is the payload it embeds, stored
    base64-encoded in one block whose scope is the whole asset.
    """

    alg: str
    value: bytes
    name: str | None = None

    def assertion_data(self) -> dict[str, Any]:
        """The soft-binding map of the C2PA specification (2.x)."""
        data: dict[str, Any] = {
            "alg": self.alg,
            "blocks": [
                {"scope": {}, "value": base64.b64encode(self.value).decode("ascii")}
            ],
            # Required zero padding; JSON has no byte strings, and c2pa-rs
            # reads an empty array as an empty one.
            "pad": [],
        }
        if self.name is not None:
            data["name"] = self.name
        return data


@dataclass(frozen=True, slots=True)
class C2paSignResult:
    """What :func:`sign_c2pa` wrote."""

    dst: Path
    manifest_label: str
    """The active manifest's label (``urn:c2pa:...``) in ``dst``."""
    format: str
    """The c2pa format string the manifest was embedded by."""
    assertions: tuple[str, ...]
    """Labels of the assertions written (c2pa adds its own hard-binding and
    ingredient assertions besides)."""
    parent: str | None = None
    """The source's earlier C2PA manifest kept as parent ingredient: its label,
    or the URL of a remote one; ``None`` when the source had none."""


@functools.cache
def _signable_formats() -> frozenset[str]:
    return frozenset(c2pa.Builder.get_supported_mime_types())


def c2pa_format(mime: str) -> str | None:
    """The c2pa format string for a probed MIME type; ``None`` if unsupported."""
    fmt = _C2PA_FORMATS.get(mime)
    return fmt if fmt is not None and fmt in _signable_formats() else None


_Walker = Callable[[Source], Iterator[object]]
_WALKERS: Final[Mapping[str, _Walker]] = {
    "jpeg": jpeg.iter_segments,
    "png": png.iter_chunks,
    "riff": riff.iter_chunks,
    "isobmff": lambda src: isobmff.iter_boxes(src, 0, src.size),
}
"""Header walkers that catch what c2pa tolerates: c2pa-rs happily signs an MP4
whose last box, or a WAV whose data chunk, runs past the end of the file."""


def _check_structure(path: Path, container: str, limits: Limits) -> None:
    """Walk the container's headers (never its payload) before signing.

    Raises:
        CorruptMedia: a header is truncated or a length runs past the file.
        MediaError: the file cannot be read.
    """
    walker = _WALKERS.get(container)
    if walker is None:
        return
    with Source.open(path, max_blob=limits.max_metadata_bytes) as source:
        try:
            with translate_errors(path, f"{container} structure"):
                for _ in walker(source):
                    pass
        except OSError as exc:
            raise MediaError(f"cannot read: {exc.strerror or exc}", path=path) from exc


@dataclass(frozen=True, slots=True)
class _Contexts:
    sign: c2pa.Context
    inspect: c2pa.Context


@functools.cache
def _contexts(pid: int) -> _Contexts:
    """Native contexts, one pair per process (c2pa objects die across fork).

    ``sign`` keeps c2pa's verify-after-sign on, so a manifest that does not
    validate is never written; ``inspect`` only parses (finding the source's
    existing store needs no hashing).
    """
    del pid  # the cache key only
    offline: dict[str, Any] = json.loads(json.dumps(OFFLINE_SETTINGS))
    sign = {**offline, "builder": {"thumbnail": {"enabled": False}}}
    verify = {**offline["verify"], "verify_after_reading": False}
    inspect = {**offline, "verify": verify}
    return _Contexts(
        sign=c2pa.Context(settings=c2pa.Settings.from_dict(sign)),
        inspect=c2pa.Context(settings=c2pa.Settings.from_dict(inspect)),
    )


# --- credentials --------------------------------------------------------------


def _read_pem(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_PEM_BYTES + 1)
    except OSError as exc:
        msg = f"cannot read the C2PA {what}: {exc.strerror or exc}"
        raise ConfigError(msg, path=path) from exc
    if len(data) > _MAX_PEM_BYTES:
        msg = f"C2PA {what} is over {_MAX_PEM_BYTES} bytes: not a PEM file"
        raise ConfigError(msg, path=path)
    return data


def _spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )


def _key_problem(key: Any, alg: C2paSigningAlg) -> str | None:
    """Why ``key`` cannot sign with ``alg``, or ``None`` when it can."""
    if alg in _EC_CURVES:
        curve = _EC_CURVES[alg]
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, curve):
            return None
        return f"{alg} needs an EC {curve.name} private key"
    if alg in _RSA_ALGS:
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
            return None
        return f"{alg} needs an RSA private key of at least 2048 bits"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return f"{alg} needs an Ed25519 private key"


def _load_credentials(config: C2paSigningConfig) -> tuple[bytes, bytes]:
    """PEM bytes of chain and key, checked so c2pa's errors never surface.

    c2pa-rs reports a wrong key type as an ASN.1 error and a key that does
    not match the certificate only after signing; these checks name the
    file and the problem instead.
    """
    cert_pem = _read_pem(config.cert_chain, "certificate chain")
    key_pem = _read_pem(config.private_key, "private key")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        msg = f"not a PEM certificate chain: {exc}"
        raise ConfigError(msg, path=config.cert_chain) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError as exc:  # encrypted, and no password given
        msg = "the private key is encrypted; give an unencrypted PEM key"
        raise ConfigError(msg, path=config.private_key) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        msg = f"not a PEM private key: {exc}"
        raise ConfigError(msg, path=config.private_key) from exc
    problem = _key_problem(key, config.alg)
    if problem is not None:
        raise ConfigError(problem, path=config.private_key)
    leaf = chain[0]
    if _spki(leaf.public_key()) != _spki(key.public_key()):
        msg = f"private key does not match the certificate in {config.cert_chain}"
        raise ConfigError(msg, path=config.private_key)
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        msg = (
            f"signing certificate is valid only from {leaf.not_valid_before_utc:%F}"
            f" to {leaf.not_valid_after_utc:%F}"
        )
        raise ConfigError(msg, path=config.cert_chain)
    return cert_pem, key_pem


def _make_signer(config: C2paSigningConfig) -> c2pa.Signer:
    cert_pem, key_pem = _load_credentials(config)
    info = c2pa.C2paSignerInfo(
        config.alg.value.encode("ascii"), cert_pem, key_pem, config.tsa_url
    )
    try:
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        msg = f"c2pa rejected the signing credentials: {exc}"
        raise ConfigError(msg, path=config.cert_chain) from exc


# --- manifest -----------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            msg = f"duplicate key {key!r}"
            raise ValueError(msg)
        out[key] = value
    return out


def _check_value(value: Any, depth: int = 0) -> str | None:
    """Why a parsed JSON value would not survive c2pa's CBOR round trip."""
    if depth > _MAX_JSON_DEPTH:
        return f"nested deeper than {_MAX_JSON_DEPTH} levels"
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, bool) or value is None:
        return None
    elif isinstance(value, int):
        return None if -(2**63) <= value < 2**64 else f"integer {value} is too large"
    elif isinstance(value, float):
        return None if math.isfinite(value) else f"number {value} is not finite"
    else:  # str
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a string holds a lone surrogate escape"
        return None
    for item in items:
        problem = _check_value(item, depth + 1)
        if problem is not None:
            return problem
    return None


def _reject_constant(name: str) -> None:
    msg = f"{name} is not JSON"
    raise ValueError(msg)


def _parse_aigc(aigc_json: str, limits: Limits, src: Path) -> dict[str, Any]:
    """The label as a JSON object; its fields are the caller's to validate."""
    size = len(aigc_json.encode("utf-8", "surrogatepass"))
    maximum = min(MAX_LABEL_BYTES, limits.max_metadata_bytes)
    if size > maximum:
        msg = f"AIGC label is {size} bytes, over the limit of {maximum}"
        raise MediaLimitExceeded(
            msg, path=src, limit="max_metadata_bytes", value=size, maximum=maximum
        )
    try:
        doc = json.loads(
            aigc_json,
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
    except RecursionError:
        msg = f"AIGC label is nested deeper than {_MAX_JSON_DEPTH} levels"
        raise ManifestInvalid(msg, path=src) from None
    except ValueError as exc:
        msg = f"AIGC label is not valid JSON: {exc}"
        raise ManifestInvalid(msg, path=src) from exc
    if not isinstance(doc, dict):
        msg = 'AIGC label must be a JSON object such as {"AIGC": {...}}'
        raise ManifestInvalid(msg, path=src)
    problem = _check_value(doc)
    if problem is not None:
        raise ManifestInvalid(f"AIGC label cannot be stored: {problem}", path=src)
    return doc


def _text(value: str, what: str, src: Path) -> str:
    if not value or len(value) > _MAX_TEXT_CHARS or not value.isprintable():
        msg = f"{what} must be 1-{_MAX_TEXT_CHARS} printable characters"
        raise ConfigError(msg, path=src)
    return value


def _agent(claim_generator: str, src: Path) -> dict[str, str]:
    """``name/version`` as the C2PA 2 generator-info map."""
    name, _, version = _text(claim_generator, "claim_generator", src).rpartition("/")
    if not name:
        return {"name": version}
    return {"name": name, "version": version}


def _check_soft_binding(binding: SoftBinding, limits: Limits, src: Path) -> None:
    _text(binding.alg, "soft-binding alg", src)
    if binding.name is not None:
        _text(binding.name, "soft-binding name", src)
    if not binding.value:
        raise ConfigError("soft-binding value is empty", path=src)
    if len(binding.value) > limits.max_metadata_bytes:
        msg = f"soft-binding value is {len(binding.value)} bytes"
        raise MediaLimitExceeded(
            msg,
            path=src,
            limit="max_metadata_bytes",
            value=len(binding.value),
            maximum=limits.max_metadata_bytes,
        )


def _manifest(
    *,
    agent: dict[str, str],
    title: str | None,
    aigc: dict[str, Any] | None,
    soft_binding: SoftBinding | None,
    has_parent: bool,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action": "c2pa.opened" if has_parent else "c2pa.created",
        "digitalSourceType": AI_SOURCE_TYPE,
        "softwareAgent": agent,
    }
    if has_parent:
        action["parameters"] = {"ingredientIds": [_PARENT_ID]}
    assertions: list[dict[str, Any]] = [
        {"label": ACTIONS_ASSERTION_LABEL, "data": {"actions": [action]}}
    ]
    if aigc is not None:
        assertions.append({"label": AIGC_ASSERTION_LABEL, "data": aigc})
    if soft_binding is not None:
        assertions.append(
            {
                "label": SOFT_BINDING_ASSERTION_LABEL,
                "data": soft_binding.assertion_data(),
            }
        )
    manifest: dict[str, Any] = {
        # Chosen here (c2pa-rs keeps it) so the result needs no read-back.
        "label": f"urn:c2pa:{uuid.uuid4()}",
        "claim_generator_info": [agent],
        "assertions": assertions,
    }
    if title is not None:
        manifest["title"] = title
    return manifest


# --- streams and errors ---------------------------------------------------------


class _GuardedFile:
    """A file handed to c2pa that remembers the OS error c2pa swallows.

    c2pa turns an exception in a stream callback into a generic I/O error;
    keeping the original tells a failing disk apart from a truncated input.
    """

    def __init__(self, fh: io.BufferedIOBase) -> None:
        self._fh = fh
        self.error: OSError | None = None

    def _record(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc

    def readinto(self, buf: WriteableBuffer) -> int:
        try:
            return self._fh.readinto(buf)
        except OSError as exc:
            self._record(exc)
            raise

    def read(self, size: int = -1) -> bytes:
        try:
            return self._fh.read(size)
        except OSError as exc:
            self._record(exc)
            raise

    def write(self, data: ReadableBuffer) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            self._record(exc)
            raise

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            self._record(exc)
            raise


def _open_source(src: Path) -> io.BufferedReader:
    try:
        return src.open("rb")
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror or exc}", path=src) from exc


def _io_error(
    source: _GuardedFile, src: Path, target: _GuardedFile, dst: Path
) -> MediaError | None:
    """The OS error behind a failed c2pa call, if a stream callback had one."""
    if source.error is not None:
        reason = source.error.strerror or source.error
        return MediaError(f"cannot read: {reason}", path=src)
    if target.error is not None:
        reason = target.error.strerror or target.error
        return MediaError(f"cannot write: {reason}", path=dst)
    return None


def _one_line(exc: BaseException) -> str:
    """c2pa's message on one line, without its ``Kind:`` prefix."""
    text = " ".join(str(exc).split())
    return _KIND_PREFIX.sub("", text, count=1)


def _sign_error(
    exc: c2pa.C2paError,
    *,
    src: Path,
    config: C2paSigningConfig,
    fmt: str,
    had_store: bool,
) -> DeepguardError:
    """The deepguard error for a failed c2pa call while signing ``src``."""
    message = _one_line(exc)
    if isinstance(exc, c2pa.C2paError.NotSupported):
        return UnsupportedFormat(
            f"c2pa cannot embed in this {fmt}: {message}", path=src
        )
    if isinstance(exc, c2pa.C2paError.Io) or any(p in message for p in _PARSE_FAILURE):
        return CorruptMedia(f"truncated or malformed {fmt}: {message}", path=src)
    if isinstance(exc, c2pa.C2paError.Json):
        msg = f"c2pa cannot encode the manifest: {message}"
        return ManifestInvalid(msg, path=src)
    if isinstance(exc, c2pa.C2paError.Signature):
        if config.tsa_url is not None and "http" in message.lower():
            msg = f"timestamp authority {config.tsa_url} failed: {message}"
            return DependencyError(msg, path=src)
        msg = f"c2pa rejected the signing credentials: {message}"
        return ConfigError(msg, path=config.cert_chain)
    if had_store:
        msg = (
            "carries a C2PA manifest that c2pa cannot keep as the parent "
            f"ingredient ({message}); signing would discard it"
        )
        return ManifestInvalid(msg, path=src)
    return DependencyError(f"c2pa could not sign: {message}", path=src)


def _existing_store(fh: _GuardedFile, fmt: str, src: Path) -> tuple[bool, str | None]:
    """Whether ``src`` already has C2PA provenance, and its label or URL."""
    try:
        with c2pa.Reader(fmt, fh, context=_contexts(os.getpid()).inspect) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return False, None
    except c2pa.C2paError as exc:
        if fh.error is not None:
            msg = f"cannot read: {fh.error.strerror or fh.error}"
            raise MediaError(msg, path=src) from exc
        message = _one_line(exc)
        remote = _REMOTE.search(message)
        if remote is not None:
            return True, remote.group(1)
        if isinstance(exc, c2pa.C2paError.Io) or any(
            p in message for p in _PARSE_FAILURE
        ):
            msg = f"truncated or malformed {fmt}: {message}"
            raise CorruptMedia(msg, path=src) from exc
        return True, None
    except ValueError:  # a store whose JSON cannot be decoded: still a store
        return True, None
    finally:
        fh.seek(0)
    label = store.get("active_manifest") if isinstance(store, dict) else None
    return True, str(label) if label else None


# --- signing ------------------------------------------------------------------


def sign_c2pa(
    src: Path,
    dst: Path,
    *,
    signing: C2paSigningConfig,
    aigc_json: str | None,
    soft_binding: SoftBinding | None = None,
    title: str | None = None,
    claim_generator: str = f"deepguard/{__version__}",
    limits: Limits | None = None,
) -> C2paSignResult:
    """Write ``src`` with a signed C2PA manifest declaring AI generation to ``dst``.

    ``aigc_json`` is the GB 45438 implicit label (``{"AIGC": {...}}``),
    stored as the :data:`AIGC_ASSERTION_LABEL` assertion (``None`` writes the
    actions, and the soft binding if given, only); it must be a JSON
    object without duplicate keys, and validating its fields is the caller's
    job (:mod:`deepguard.labels.fields`). c2pa stores JSON as CBOR, so the
    label reads back as an equal object, with its members in sorted order.
    ``dst`` appears atomically and only when everything succeeded; ``src`` is
    only read.

    Raises:
        ConfigError: the certificate chain or key is unreadable, malformed,
            does not match ``signing.alg`` or each other, or c2pa rejects it.
        UnsupportedFormat: c2pa cannot embed a manifest in this format.
        CorruptMedia: the content is truncated or malformed.
        ManifestInvalid: the AIGC JSON is not a JSON object, or ``src`` holds
            a C2PA manifest that c2pa cannot carry over.
        MediaLimitExceeded: ``src`` or a metadata value is over ``limits``.
        MediaError: ``src`` cannot be read or ``dst`` cannot be written.
        DependencyError: the timestamp authority or c2pa itself failed.
    """
    src, dst = Path(src), Path(dst)
    limits = limits or Limits()
    found = probe(src, max_file_bytes=limits.max_file_bytes)
    fmt = c2pa_format(found.mime)
    if fmt is None:
        msg = f"C2PA manifests cannot be embedded in {found.mime} content"
        raise UnsupportedFormat(msg, path=src)
    if dst.is_dir():
        raise MediaError("is a directory, not a file", path=dst)
    _check_structure(src, found.container, limits)
    aigc = _parse_aigc(aigc_json, limits, src) if aigc_json is not None else None
    if soft_binding is not None:
        _check_soft_binding(soft_binding, limits, src)
    if title is not None:
        _text(title, "title", src)
    agent = _agent(claim_generator, src)
    signer = _make_signer(signing)
    try:
        with _open_source(src) as raw_src:
            source = _GuardedFile(raw_src)
            had_store, parent = _existing_store(source, fmt, src)
            manifest = _manifest(
                agent=agent,
                title=title,
                aigc=aigc,
                soft_binding=soft_binding,
                has_parent=had_store,
            )
            with atomic_output(dst) as tmp, tmp.open("w+b") as raw_dst:
                target = _GuardedFile(raw_dst)
                try:
                    manifest_bytes = _embed(
                        manifest, fmt, source, target, signer, has_parent=had_store
                    )
                except c2pa.C2paError as exc:
                    raise _io_error(source, src, target, dst) or _sign_error(
                        exc, src=src, config=signing, fmt=fmt, had_store=had_store
                    ) from exc
                label = str(manifest["label"])
                if label.encode("ascii") not in manifest_bytes:
                    msg = f"c2pa did not keep the manifest label {label}"
                    raise DependencyError(msg, path=src)
    except OSError as exc:
        msg = f"cannot write: {exc.strerror or exc}"
        raise MediaError(msg, path=dst) from exc
    finally:
        signer.close()
    return C2paSignResult(
        dst=dst,
        manifest_label=label,
        format=fmt,
        assertions=tuple(a["label"] for a in manifest["assertions"]),
        parent=parent,
    )


def _embed(
    manifest: dict[str, Any],
    fmt: str,
    source: _GuardedFile,
    target: _GuardedFile,
    signer: c2pa.Signer,
    *,
    has_parent: bool,
) -> bytes:
    """Build and sign; returns the manifest store c2pa embedded."""
    with c2pa.Builder(manifest, context=_contexts(os.getpid()).sign) as builder:
        if has_parent:
            ingredient = {"relationship": "parentOf", "label": _PARENT_ID}
            builder.add_ingredient_from_stream(ingredient, fmt, source)
            source.seek(0)
        result: bytes = builder.sign(signer, fmt, source, target)
    return result
