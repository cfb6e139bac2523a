"""Files and the HTTP endpoint: backups 0600 in 0700 folders, no password on any child's command
line, alert files and logs never world-writable (even under umask 000), and `serve` answering 401
without the right token and a fixed message — no traceback, code path or DSN — on internal errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from migration_guard.tasks.settings import load_settings
from tests.helpers import run_cli, serving_alerts_api
from tests.security.conftest import SecretServer, assert_no_leak

pytestmark = pytest.mark.security

TOKEN = "sec-serve-token-5150"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000: every mode below must come from the code, not from the environment."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backups_are_private_and_the_password_never_reaches_argv(
    secret_server: SecretServer, tmp_path: Path, permissive_umask, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbname = secret_server.create_database("sec_files")
    argv_seen: list[list[str]] = []
    real_popen = subprocess.Popen

    class RecordingPopen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **kwargs):
            argv_seen.append([str(a) for a in args])
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    env = {"DATABASE_URL": secret_server.url(dbname), "BACKUP_DIR": str(tmp_path / "backups")}
    try:
        custom = run_cli(["backup", "create", "--json", "--restore-check"], env)
        directory = run_cli(["backup", "create", "--json", "--format", "directory", "--reason", "dir"], env)
        verified = run_cli(["backup", "verify", "--restore-check"], env)
    finally:
        secret_server.drop_database(dbname)

    for result in (custom, directory, verified):
        assert result.exit_code == 0, result.output
    assert any("pg_dump" in a[0] for a in argv_seen) and any("pg_restore" in a[0] for a in argv_seen)
    assert_no_leak(json.dumps(argv_seen), where="child command lines")
    backups = tmp_path / "backups"
    assert _mode(backups) == 0o700
    entries = list(backups.rglob("*"))
    assert any(p.is_dir() for p in entries) and any(p.suffix == ".json" for p in entries)
    for path in entries:
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, (path, oct(_mode(path)))


def test_alert_files_and_logs_are_not_world_writable(tmp_path: Path, db_url: str, permissive_umask) -> None:
    env = {"DATABASE_URL": "postgresql://app:pw-files-1@127.0.0.1:1/app", "ALERTS_DIR": str(tmp_path / "alerts"),
           "LOG_DIR": str(tmp_path / "logs")}

    down = run_cli(["healthcheck"], env)
    up = run_cli(["healthcheck"], {**env, "DATABASE_URL": db_url})

    assert down.exit_code == 2 and up.exit_code in (0, 1)
    written = [p for p in (tmp_path / "alerts").rglob("*")] + [p for p in (tmp_path / "logs").rglob("*")]
    assert any(p.suffix == ".json" for p in written) and any(p.name == "healthcheck.log" for p in written)
    for path in [tmp_path / "alerts", tmp_path / "logs", *written]:
        assert not _mode(path) & stat.S_IWOTH, (path, oct(_mode(path)))
        assert not _mode(path) & stat.S_IWGRP, (path, oct(_mode(path)))


def _call(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _assert_opaque(body: str) -> None:
    for telltale in ("Traceback", 'File "', ".py", "/work/", "site-packages", "postgresql://", "Error:"):
        assert telltale not in body, (telltale, body)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN},
    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": "Bearer "},
    {"X-Token": TOKEN},
], ids=["none", "wrong", "basic", "bare", "longer", "prefix", "empty", "other-header"])
def test_serve_rejects_deletes_without_the_right_token(tmp_path: Path, headers: dict[str, str]) -> None:
    settings = load_settings(alerts_dir=tmp_path, alerts_api_token=TOKEN)
    from migration_guard.tasks.alerts.api import fire_alert

    alert = fire_alert(settings, check="c", database="app", category="DATABASE_HEALTH", severity="LOW", title="t",
                       message="m", impact="i", suggestions=[], component="test")
    with serving_alerts_api(settings) as base:
        answers = [_call(base + path, "DELETE", headers) for path in
                   ("/alerts", "/alerts?all=true", f"/alerts/{alert.id}", f"/alerts?token={TOKEN}")]

    assert [status for status, _ in answers] == [401] * 4
    for _, body in answers:
        assert TOKEN not in body
    assert list(tmp_path.glob("*.json")), "nothing was deleted"


def test_serve_rejects_every_delete_when_no_token_is_configured(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path)
    with serving_alerts_api(settings) as base:
        assert _call(base + "/alerts?all=true", "DELETE", {"Authorization": "Bearer "})[0] == 401
        assert _call(base + "/alerts?all=true", "DELETE", {"Authorization": "Bearer None"})[0] == 401


def test_serve_never_echoes_internal_errors(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "alerts-is-a-file"
    not_a_folder.write_text("{}")
    unreachable = "postgresql://app:Srv-Sec-77@127.0.0.1:1/app"
    broken = load_settings(database_url=unreachable, alerts_dir=not_a_folder, alerts_api_token=TOKEN)
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("freshness: [{name: x, query: 'SELECT 1', period: soon}]\n")
    misconfigured = load_settings(database_url=unreachable, alerts_dir=tmp_path, healthcheck_config=bad_config)

    with serving_alerts_api(broken) as base:
        health = _call(base + "/health")
        alerts = _call(base + "/alerts")
        delete = _call(base + "/alerts?all=true", "DELETE", {"Authorization": f"Bearer {TOKEN}"})
        traversal = _call(base + "/alerts/..%2F..%2Fetc%2Fpasswd", "DELETE", {"Authorization": f"Bearer {TOKEN}"})
    with serving_alerts_api(misconfigured) as base:
        config = _call(base + "/health")

    assert health[0] == 503 and json.loads(health[1])["status"] == "fail"
    assert config[0] == 503 and json.loads(config[1])["status"] == "fail"
    assert alerts[0] in (200, 500) and delete[0] in (200, 500) and traversal[0] in (400, 404, 500)
    for status, body in (health, alerts, delete, traversal, config):
        _assert_opaque(body)
        assert "Srv-Sec-77" not in body and str(tmp_path) not in body, body
    assert not_a_folder.read_text() == "{}"


def test_serve_drops_clients_that_never_finish_a_request(tmp_path: Path) -> None:
    """A client that connects and sends nothing (slowloris) must not hold a server thread forever."""
    import socket
    import time

    settings = load_settings(alerts_dir=tmp_path)
    with serving_alerts_api(settings, request_timeout=1.0) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as idle:
            idle.sendall(b"GET /health HTTP/1.1\r\n")  # never finished
            started = time.monotonic()
            closed = idle.recv(1024) == b""
            waited = time.monotonic() - started
        assert closed and waited < 10, (closed, waited)
        assert _call(f"{base}/nope")[0] == 404  # still serving
