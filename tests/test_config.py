from __future__ import annotations

from pathlib import Path

import pytest

from deepguard.config import load_settings
from deepguard.errors import ConfigError


def test_defaults_use_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPGUARD_HOME", raising=False)
    monkeypatch.delenv("DEEPGUARD_CONFIG", raising=False)
    settings = load_settings(home=tmp_path)
    assert settings.home == tmp_path
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'deepguard.db'}"


def test_precedence_flags_env_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text(
        "workers = 3\n[limits]\nmax_pixels = 1000\nmax_duration_s = 60\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DEEPGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("DEEPGUARD_CONFIG", raising=False)
    settings = load_settings()
    assert settings.workers == 3
    assert settings.limits.max_pixels == 1000
    monkeypatch.setenv("DEEPGUARD_WORKERS", "5")
    monkeypatch.setenv("DEEPGUARD_LIMITS__MAX_PIXELS", "2000")
    settings = load_settings()
    assert settings.workers == 5
    assert settings.limits.max_pixels == 2000
    assert load_settings(workers=7).workers == 7


def test_explicit_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPGUARD_CONFIG", raising=False)
    cfg = tmp_path / "other.toml"
    cfg.write_text('database_url = "sqlite:////tmp/x.db"\n', encoding="utf-8")
    assert (
        load_settings(home=tmp_path, config=cfg).database_url == "sqlite:////tmp/x.db"
    )
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(home=tmp_path, config=tmp_path / "missing.toml")


def test_bad_values_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPGUARD_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text("workers = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid setting workers"):
        load_settings(home=tmp_path)
    (tmp_path / "config.toml").write_text("workers = [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_settings(home=tmp_path)
    (tmp_path / "config.toml").write_text("unknown_key = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown_key"):
        load_settings(home=tmp_path)
