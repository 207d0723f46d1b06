"""Settings: environment (``DEEPGUARD_*``), an optional TOML file, then CLI flags.

Precedence, highest first: explicit keyword arguments (what the CLI passes from
its flags), environment variables, the TOML file, the defaults below. The TOML
file is ``$DEEPGUARD_HOME/config.toml`` unless ``DEEPGUARD_CONFIG`` or
``--config`` names another one.

Why one object: every verdict must be reproducible, so the limits and
thresholds a scan ran under are recorded with it; they all live here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from deepguard.errors import ConfigError

__all__ = [
    "LabelSettings",
    "Limits",
    "Settings",
    "WatermarkSettings",
    "default_home",
    "load_settings",
]


def default_home() -> Path:
    """The data directory: ``$DEEPGUARD_HOME`` or ``~/.deepguard``."""
    env = os.environ.get("DEEPGUARD_HOME")
    return Path(env).expanduser() if env else Path.home() / ".deepguard"


class Limits(BaseModel):
    """Resource limits for one input. Hostile files must not exhaust a worker."""

    max_file_bytes: int = Field(default=8 * 1024**3, gt=0)
    max_pixels: int = Field(default=100_000_000, gt=0)
    max_duration_s: float = Field(default=4 * 3600.0, gt=0)
    max_decode_s: float = Field(default=300.0, gt=0)
    max_metadata_bytes: int = Field(
        default=16 * 1024**2,
        gt=0,
        description="Largest single metadata blob (XMP packet, text chunk) read.",
    )
    metadata_scan_bytes: int = Field(
        default=32 * 1024**2,
        gt=0,
        description="Bytes searched for XMP at each end of formats without structure.",
    )


class LabelSettings(BaseModel):
    """How deepguard writes and checks GB 45438 labels."""

    keys_dir: Path | None = Field(
        default=None, description="Signing keys; defaults to $home/keys."
    )
    trust_dir: Path | None = Field(
        default=None,
        description="Public keys of providers and platforms, filed by provider "
        "code; defaults to $home/trust.",
    )
    font: Path | None = Field(
        default=None, description="CJK font for explicit labels (default: search)."
    )
    explicit_text: str = Field(
        default="AI生成", description="Text of rendered explicit labels."
    )
    explicit_height_ratio: float = Field(default=0.06, ge=0.05, le=0.5)
    video_sample_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="After the opening 2 s, how often video frames are OCR'd.",
    )
    c2pa_cert_chain: Path | None = Field(
        default=None, description="PEM certificate chain for C2PA signing."
    )
    c2pa_private_key: Path | None = Field(
        default=None, description="PEM private key for C2PA signing."
    )
    c2pa_alg: str = Field(default="es256", description="es256, es384, ps256, ed25519.")
    c2pa_tsa_url: str | None = Field(
        default=None, description="RFC 3161 time-stamp authority (none by default)."
    )


class WatermarkSettings(BaseModel):
    """Invisible watermarks (``[watermark]`` in config.toml)."""

    key: str | None = Field(
        default=None,
        description="Secret for a private mark; unset uses the public key, "
        "which every platform can read.",
    )
    fpr: float = Field(
        default=1e-6,
        gt=0,
        lt=1e-2,
        description="False-positive probability per item the detector accepts.",
    )
    psnr_db: float = Field(
        default=42.5, ge=42.0, le=60.0, description="Image and video strength."
    )
    sd_marks: bool = Field(
        default=True,
        description="Look for Stable Diffusion's invisible-watermark marks in images.",
    )
    trustmark_model: Path | None = Field(
        default=None,
        description="TrustMark decoder ONNX file (never downloaded); unset: off.",
    )
    trustmark_variant: str = Field(
        default="Q", description="TrustMark model variant: C, Q, B or P."
    )
    videoseal_model: Path | None = Field(
        default=None,
        description="VideoSeal TorchScript file (needs PyTorch); unset: off.",
    )
    videoseal_message: str | None = Field(
        default=None,
        description="The message a provider embeds with VideoSeal (0/1 or 0x hex).",
    )
    audioseal_model: Path | None = Field(
        default=None,
        description="AudioSeal detector TorchScript file (needs PyTorch); unset: off.",
    )
    audioseal_message: str | None = Field(
        default=None,
        description="The 16-bit message a provider embeds with AudioSeal.",
    )


class LikenessSettings(BaseModel):
    """Finding protected people (``[likeness]`` in config.toml)."""

    face_fmr: float = Field(
        default=1e-3,
        gt=0,
        le=0.1,
        description="False-match rate the face threshold is set for.",
    )
    voice_fmr: float = Field(
        default=1e-3,
        gt=0,
        le=0.1,
        description="False-match rate the voice threshold is set for.",
    )
    video_fps: float = Field(
        default=2.0, gt=0, le=30, description="Frames per second sampled in video."
    )
    max_audio_s: float = Field(
        default=600.0,
        gt=0,
        description="Seconds of audio searched for voices per file (the opening).",
    )


class Settings(BaseSettings):
    """All of deepguard's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="DEEPGUARD_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    home: Path = Field(default_factory=default_home)
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to SQLite at $home/deepguard.db.",
    )
    workers: int = Field(default=0, ge=0, description="0 means one per CPU core.")
    c2pa_trust_settings: Path | None = Field(
        default=None,
        description="c2pa-rs settings JSON with trust anchors used to validate C2PA.",
    )
    limits: Limits = Field(default_factory=Limits)
    labels: LabelSettings = Field(default_factory=LabelSettings)
    watermark: WatermarkSettings = Field(default_factory=WatermarkSettings)
    likeness: LikenessSettings = Field(default_factory=LikenessSettings)

    @property
    def keys_dir(self) -> Path:
        return self.labels.keys_dir or self.home / "keys"

    @property
    def trust_dir(self) -> Path:
        return self.labels.trust_dir or self.home / "trust"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the embedded SQLite default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'deepguard.db'}"

    @property
    def effective_workers(self) -> int:
        """Worker processes for batch scans."""
        return self.workers or max(1, os.cpu_count() or 1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file chosen by ``DEEPGUARD_CONFIG`` or the home directory."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None = None):
        super().__init__(settings_cls)
        self._data = _read_toml(path or _config_path())

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _config_path() -> Path:
    env = os.environ.get("DEEPGUARD_CONFIG")
    if env:
        return Path(env).expanduser()
    return default_home() / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    explicit = "DEEPGUARD_CONFIG" in os.environ
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        if explicit:
            msg = "configuration file not found"
            raise ConfigError(msg, path=path) from None
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"cannot read configuration: {exc}"
        raise ConfigError(msg, path=path) from exc


def load_settings(
    *, home: Path | None = None, config: Path | None = None, **overrides: Any
) -> Settings:
    """Build settings from every source; keyword arguments win.

    ``home`` also moves the default config file, so ``--home DIR`` gives a fully
    separate installation.

    Raises:
        ConfigError: the TOML file or a value is invalid.
    """
    saved = {k: os.environ.get(k) for k in ("DEEPGUARD_HOME", "DEEPGUARD_CONFIG")}
    try:
        if home is not None:
            os.environ["DEEPGUARD_HOME"] = str(home)
            overrides["home"] = home
        if config is not None:
            os.environ["DEEPGUARD_CONFIG"] = str(config)
        values = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = f"invalid setting {where}: {first['msg']}"
        raise ConfigError(msg) from exc
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
