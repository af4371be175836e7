"""`archive serve` as a real process over loopback, and its refusals at start-up."""

from __future__ import annotations

import httpx
import pytest

from tests.processes import env_with, run, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def data_env(tmp_path):
    env = env_with(ARCHIVE_DATA_DIR=str(tmp_path / "data"), ARCHIVE_DEMO_PASSWORD="demo-password-for-tests",
                   ARCHIVE_ENV="development")
    env.pop("ARCHIVE_DATABASE_URL", None)
    env.pop("ARCHIVE_JWT_SECRET", None)
    return env


def test_demo_then_serve_and_sign_in_over_loopback(data_env, tmp_path):
    seeded = run("demo", "--no-serve", env=data_env)
    assert seeded.returncode == 0, seeded.stderr
    assert "sales_rep" in seeded.stdout and "demo-password-for-tests" in seeded.stdout
    with serving(data_env, log=tmp_path / "serve.log") as base:
        assert httpx.get(base + "/docs").status_code == 200
        assert httpx.get(base + "/readyz").status_code == 200
        token = httpx.post(base + "/api/v1/auth/token",
                           data={"username": "sales_rep", "password": "demo-password-for-tests"}).json()
        me = httpx.get(base + "/api/v1/users/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.status_code == 200 and me.json()["username"] == "sales_rep"
        assert token["token_type"] == "bearer" and token["expires_in"] > 0
    log = (tmp_path / "serve.log").read_text()
    assert "demo-password-for-tests" not in log and token["access_token"] not in log


def test_production_with_demo_secrets_exits_naming_the_settings(data_env):
    data_env["ARCHIVE_ENV"] = "production"
    result = run("serve", env=data_env, timeout=60)
    assert result.returncode != 0
    for name in ("ARCHIVE_JWT_SECRET", "ARCHIVE_DEMO_PASSWORD", "ARCHIVE_DATABASE_URL"):
        assert name in result.stderr


def test_serve_refuses_an_unmigrated_database(data_env):
    result = run("serve", env=data_env, timeout=60)
    assert result.returncode != 0
    assert "archive db upgrade" in result.stderr
