"""Settings: defaults serve the demo; production refuses demo or weak secrets, naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.settings import Settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in ("ARCHIVE_JWT_SECRET", "ARCHIVE_ENV", "ARCHIVE_DATABASE_URL", "ARCHIVE_DEMO_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ARCHIVE_DATA_DIR", str(tmp_path))
    return monkeypatch


def test_defaults_serve_the_demo(clean_env, tmp_path):
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'archive.db'}"
    assert settings.core.timezone == "Asia/Shanghai"
    secret = settings.jwt_signing_secret()
    assert len(secret) >= 32 and secret == Settings().jwt_signing_secret()
    assert oct((tmp_path / "keys" / "jwt-secret.demo").stat().st_mode & 0o777) == "0o600"


def test_production_names_every_missing_setting(clean_env):
    clean_env.setenv("ARCHIVE_ENV", "production")
    clean_env.setenv("ARCHIVE_DEMO_PASSWORD", "demo-password-1")
    problems = " ".join(Settings().problems_for_production())
    for name in ("ARCHIVE_JWT_SECRET", "ARCHIVE_DEMO_PASSWORD", "ARCHIVE_DATABASE_URL"):
        assert name in problems


def test_production_refuses_a_weak_secret_and_accepts_a_strong_one(clean_env):
    clean_env.setenv("ARCHIVE_ENV", "production")
    clean_env.setenv("ARCHIVE_DATABASE_URL", "postgresql+psycopg://app@db/archive")
    clean_env.setenv("ARCHIVE_JWT_SECRET", "a" * 40)
    assert any("weak" in p for p in Settings().problems_for_production())
    clean_env.setenv("ARCHIVE_JWT_SECRET", "Zq8v1Lk3-9sPz0Xe7Nw2Rb5Ty4Uo6Ia1Sd3Fg5Hj7K")
    assert Settings().problems_for_production() == []


def test_secrets_dir_supplies_secrets(clean_env, tmp_path: Path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "archive_jwt_secret").write_text("from-a-mounted-secret-" + "q" * 30)
    clean_env.setenv("ARCHIVE_SECRETS_DIR", str(secrets))
    import importlib

    import archive.settings as module

    reloaded = importlib.reload(module)
    try:
        assert reloaded.Settings().auth.jwt_secret.get_secret_value().startswith("from-a-mounted-secret-")
    finally:
        clean_env.delenv("ARCHIVE_SECRETS_DIR")
        importlib.reload(module)


def test_unknown_timezone_fails_at_start(clean_env):
    clean_env.setenv("ARCHIVE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(Exception, match="Mars"):
        Settings()
