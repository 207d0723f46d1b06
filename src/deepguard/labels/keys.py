"""Signing keys on disk, and the directory of public keys verifiers trust.

The key store lives under ``$home/keys``: one private key file per key
(``<name>.key``, mode 0600) and a JSON index recording each key's provider
code, algorithm, key id and creation time. Private keys never leave the
store; ``export`` writes the public half as SubjectPublicKeyInfo PEM named
``<provider code>.<kid>.pem`` so that a platform can drop it into its trust
directory as is.

A trust directory holds public keys *keyed by provider code*: a file's name
starts with the code (``<code>.pem``, ``<code>.<anything>.pem``) or the file
lives in a folder named after the code (``<code>/<anything>.pem``). A key is
trusted only for the code it is filed under, so a valid signature by one
provider's key cannot vouch for a label claiming another provider.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from deepguard._atomic import atomic_output
from deepguard.errors import ConfigError, Conflict, NotFound
from deepguard.labels.signing import (
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    generate_key,
    load_private_key,
    load_public_key_pem,
)

__all__ = ["KeyInfo", "KeyStore", "TrustedKeys", "signing_key"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CODE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")
_MAX_KEY_FILE = 64 * 1024


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the index records about one key (never the secret)."""

    name: str
    provider_code: str
    algorithm: str
    kid: str
    created: str


class KeyStore:
    """Private signing keys of this installation."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def _index_path(self) -> Path:
        return self.directory / "index.json"

    def _index(self) -> dict[str, KeyInfo]:
        try:
            data = json.loads(self._index_path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read key index: {exc}", path=self._index_path
            ) from exc
        return {name: KeyInfo(**info) for name, info in data.items()}

    def _save(self, index: dict[str, KeyInfo]) -> None:
        payload = json.dumps({n: asdict(i) for n, i in index.items()}, indent=2)
        with atomic_output(self._index_path) as tmp:
            tmp.write_text(payload + "\n", "utf-8")

    def list(self) -> list[KeyInfo]:
        return sorted(self._index().values(), key=lambda k: (k.provider_code, k.name))

    def create(
        self, provider_code: str, *, algorithm: str = "ed25519", name: str | None = None
    ) -> KeyInfo:
        """Generate and store a new key for ``provider_code``.

        Raises:
            ConfigError: bad code, name or algorithm.
            Conflict: a key with this name exists.
        """
        if not _CODE.match(provider_code):
            raise ConfigError(
                f"provider code {provider_code!r} uses characters a label cannot hold"
            )
        if algorithm not in ALGORITHMS:
            raise ConfigError(
                f"unknown algorithm {algorithm!r}; use {', '.join(ALGORITHMS)}"
            )
        key = generate_key(algorithm)
        name = name or f"{provider_code}-{key.public_key.kid[:8]}"
        if not _NAME.match(name):
            raise ConfigError(f"key name {name!r} must be 1-64 of A-Z a-z 0-9 . _ -")
        index = self._index()
        if name in index:
            raise Conflict(f"a key named {name!r} already exists")
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        with atomic_output(self.directory / f"{name}.key", mode=0o600) as tmp:
            tmp.write_bytes(key.to_pem())
        info = KeyInfo(
            name=name,
            provider_code=provider_code,
            algorithm=algorithm,
            kid=key.public_key.kid,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        index[name] = info
        self._save(index)
        return info

    def info(self, name_or_kid: str) -> KeyInfo:
        """Look a key up by name or key id.

        Raises:
            NotFound: no such key.
        """
        for info in self._index().values():
            if name_or_kid in (info.name, info.kid):
                return info
        raise NotFound(f"no signing key named {name_or_kid!r} in {self.directory}")

    def for_provider(self, provider_code: str) -> KeyInfo:
        """The newest key for a provider code.

        Raises:
            NotFound: no key for that code.
        """
        keys = [k for k in self._index().values() if k.provider_code == provider_code]
        if not keys:
            raise NotFound(
                f"no signing key for provider code {provider_code}; "
                "create one with `deepguard keys create`"
            )
        return max(keys, key=lambda k: k.created)

    def private_key(self, info: KeyInfo) -> PrivateKey:
        path = self.directory / f"{info.name}.key"
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read key: {exc.strerror or exc}", path=path
            ) from exc
        return load_private_key(pem, source=str(path))

    def export_public(self, name_or_kid: str, out_dir: Path) -> Path:
        """Write the public key as ``<code>.<kid>.pem`` into ``out_dir``."""
        info = self.info(name_or_kid)
        pem = self.private_key(info).public_key.to_pem()
        out = out_dir / f"{info.provider_code}.{info.kid}.pem"
        with atomic_output(out) as tmp:
            tmp.write_bytes(pem)
        return out


class TrustedKeys:
    """Public keys by provider code, loaded from a trust directory."""

    def __init__(self, keys: dict[str, list[PublicKey]], problems: list[str]) -> None:
        self._keys = keys
        self.problems = problems
        """Files that could not be loaded, one line each."""

    @classmethod
    def empty(cls) -> TrustedKeys:
        return cls({}, [])

    @classmethod
    def from_directory(cls, directory: Path) -> TrustedKeys:
        """Load every ``*.pem``/``*.pub`` file; bad files are listed, not fatal.

        Raises:
            ConfigError: the directory does not exist.
        """
        if not directory.is_dir():
            raise ConfigError("trust directory does not exist", path=directory)
        keys: dict[str, list[PublicKey]] = {}
        problems: list[str] = []
        for path in sorted(directory.rglob("*")):
            if path.suffix not in (".pem", ".pub") or not path.is_file():
                continue
            rel = path.relative_to(directory)
            code = rel.parts[0] if len(rel.parts) > 1 else path.name.split(".")[0]
            try:
                if path.stat().st_size > _MAX_KEY_FILE:
                    raise ConfigError("key file is too large", path=path)
                key = load_public_key_pem(path.read_bytes(), source=str(path))
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
                continue
            keys.setdefault(code, []).append(key)
        return cls(keys, problems)

    def add(self, provider_code: str, key: PublicKey) -> None:
        self._keys.setdefault(provider_code, []).append(key)

    def find(self, provider_code: str, kid: str) -> PublicKey | None:
        for key in self._keys.get(provider_code, ()):
            if key.kid == kid:
                return key
        return None

    def codes(self) -> list[str]:
        return sorted(self._keys)


def signing_key(
    keys_dir: Path, provider_code: str, sign: bool | None
) -> tuple[KeyInfo, PrivateKey] | None:
    """The key to sign with for ``provider_code``, by the caller's policy.

    ``sign`` None: the newest key for the code when there is one, else None;
    True: that key, or ``NotFound``; False: never sign.
    """
    if sign is False:
        return None
    store = KeyStore(keys_dir)
    try:
        info = store.for_provider(provider_code)
    except NotFound:
        if sign:
            raise
        return None
    return info, store.private_key(info)
