"""The `tiangong` command, run as a real process against this run's database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import backends

TIANGONG = [sys.executable, "-m", "tiangong.cli"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIANGONG, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or os.environ.copy(),
    )


def test_openapi_prints_the_document_without_a_server() -> None:
    result = _run("openapi")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert "/api/v1/auth/login" in doc["paths"]
    assert "/api/v1/model-configs/{config_id}/test" in doc["paths"]


def test_user_create_admin_then_login(tmp_path: Path) -> None:
    result = _run(
        "user",
        "create",
        "--email",
        "root@example.com",
        "--nickname",
        "root",
        "--password",
        "root-password-1",
        "--admin",
    )
    assert result.returncode == 0, result.stderr
    assert "(admin)" in result.stdout
    again = _run(
        "user",
        "create",
        "--email",
        "root@example.com",
        "--nickname",
        "root2",
        "--password",
        "root-password-1",
    )
    assert again.returncode == 1
    assert "already registered" in again.stderr


def test_user_create_rejects_bad_input() -> None:
    result = _run("user", "create", "--email", "x", "--nickname", "n", "--password", "p")
    assert result.returncode == 2
    assert "invalid input" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(backends.BACKEND != "sqlite", reason="the embedded default is SQLite")
def test_serve_on_a_fresh_data_dir_migrates_and_answers_health(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIANGONG_")}
    env["TIANGONG_DATA_DIR"] = str(tmp_path / "data")
    port = _free_port()
    proc = subprocess.Popen(
        [*TIANGONG, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert response.json()["status"] == "ok"
        assert response.json()["database"]["backend"] == "sqlite"
        assert (tmp_path / "data" / "tiangong.db").exists()
        assert (tmp_path / "data" / "encryption_key").exists()
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        assert docs.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_db_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    env = os.environ.copy()
    if backends.BACKEND == "sqlite":
        # A private database file, so the shared test database keeps its tables.
        env["TIANGONG_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        assert _run("db", "upgrade", env=env).returncode == 0
    down = _run("db", "downgrade", "base", env=env)
    try:
        assert down.returncode == 0, down.stderr
    finally:
        up = _run("db", "upgrade", env=env)
    assert up.returncode == 0, up.stderr
    assert "upgraded to head" in up.stdout
