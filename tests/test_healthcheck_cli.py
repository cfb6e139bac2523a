"""`migration-guard healthcheck` and `alerts`: exit codes 0/1/2/3, JSON, and no secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from tests.helpers import run_cli

PASSWORD = "Cli-Secret-Pw-5150"


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "ALERTS_DIR": str(tmp_path / "alerts"), "LOG_DIR": str(tmp_path / "logs"),
            "ENVIRONMENT": "test", **extra}


def test_healthy_database_exits_0(tmp_path: Path, db_url: str) -> None:
    result = run_cli(["healthcheck", "--json"], env=_env(tmp_path, db_url))

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "OK"
    assert {c["check"] for c in data["checks"]} >= {"connectivity", "invalid_indexes", "connections", "lock_waits"}
    log = (tmp_path / "logs" / "healthcheck.log").read_text().splitlines()
    assert len(log) == len(data["checks"]) and json.loads(log[0])["duration_ms"] >= 0


def test_medium_problem_exits_1_and_lists_the_alert(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE users (email text)")
    db.execute("INSERT INTO users VALUES ('a'), ('a')")
    try:
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)")
    except psycopg.errors.UniqueViolation:
        pass

    result = run_cli(["healthcheck"], env=_env(tmp_path, db_url))
    listed = run_cli(["alerts", "list", "--json"], env=_env(tmp_path, db_url))

    assert result.exit_code == 1, result.output
    assert "REINDEX INDEX CONCURRENTLY public.users_email_key;" in result.stdout
    alerts = json.loads(listed.stdout)
    assert [a["check"] for a in alerts] == ["invalid_indexes"]
    assert alerts[0]["severity"] == "MEDIUM" and alerts[0]["technicalDetails"]["environment"] == "test"


def test_unreachable_database_exits_2_without_leaking_the_password(tmp_path: Path) -> None:
    url = f"postgresql://app:{PASSWORD}@127.0.0.1:1/app"

    result = run_cli(["healthcheck", "--json"], env=_env(tmp_path, url))

    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["alerts"]["firing"][0]["category"] == "DATABASE_CONNECTION"
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert PASSWORD not in result.output + written


def test_bad_configuration_exits_3(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "hc.yaml"
    config.write_text("freshness:\n  - name: x\n    query: SELECT now()\n    period: soon\n")

    result = run_cli(["healthcheck", "--config", str(config)], env=_env(tmp_path, db_url))
    missing = run_cli(["healthcheck"], env={"ALERTS_DIR": str(tmp_path)})

    assert result.exit_code == 3
    assert "freshness.0.period" in result.stderr and "not a duration" in result.stderr
    assert missing.exit_code == 3 and "DATABASE_URL" in missing.stderr


def test_alerts_resolve_and_clear(tmp_path: Path) -> None:
    env = _env(tmp_path, f"postgresql://app:{PASSWORD}@127.0.0.1:1/app")
    run_cli(["healthcheck"], env=env)
    alert_id = json.loads(run_cli(["alerts", "list", "--json"], env=env).stdout)[0]["id"]

    resolved = run_cli(["alerts", "resolve", alert_id], env=env)
    missing = run_cli(["alerts", "resolve", "nope"], env=env)
    firing_after = json.loads(run_cli(["alerts", "list", "--json"], env=env).stdout)
    every = json.loads(run_cli(["alerts", "list", "--all", "--json"], env=env).stdout)
    cleared = run_cli(["alerts", "clear", "--resolved"], env=env)

    assert resolved.exit_code == 0 and alert_id in resolved.stdout
    assert missing.exit_code == 1 and "no alert with id" in missing.stderr
    assert firing_after == [] and every[0]["status"] == "resolved"
    assert "deleted 1 resolved alert(s)" in cleared.stdout
    assert list((tmp_path / "alerts").glob("*.json")) == []
