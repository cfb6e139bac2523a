"""`migration-guard maintenance` deletes expired alerts and old logs, keeps firing alerts and fresh files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.alerts.api import fire_alert, resolve_alerts
from tests.helpers import run_cli


def _alert(settings, check: str) -> None:
    fire_alert(
        settings, check=check, database="db", category="DATABASE_MIGRATION", severity="HIGH",
        title="t", message="m", impact="i", suggestions=["s"], component="test",
    )


def test_maintenance_deletes_only_what_expired(tmp_path: Path) -> None:
    alerts = tmp_path / "logs" / "alerts"
    alerts.mkdir(parents=True)
    old_log = tmp_path / "logs" / "old.log"
    fresh_log = tmp_path / "logs" / "healthcheck.log"
    old_log.write_text("old\n")
    fresh_log.write_text("fresh\n")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old_log, (ten_days_ago, ten_days_ago))
    env = {"ALERTS_DIR": str(alerts), "LOG_DIR": str(tmp_path / "logs"), "BACKUP_DIR": str(tmp_path / "backups")}
    settings = load_settings(alerts_dir=alerts, log_dir=tmp_path / "logs")
    _alert(settings, "old-problem")
    _alert(settings, "still-firing")
    resolve_alerts(settings, check="old-problem", database="db")
    (resolved_file,) = [p for p in alerts.glob("*.json") if json.loads(p.read_text())["status"] == "resolved"]
    record = json.loads(resolved_file.read_text())
    record["resolved_at"] = "2020-01-01T00:00:00.000Z"
    resolved_file.write_text(json.dumps(record))

    result = run_cli(["maintenance", "--json"], env)

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["logs_deleted"] == [str(old_log)]
    assert not old_log.exists() and fresh_log.exists()
    assert data["backups_deleted"] == []
    assert len(data["alerts_deleted"]) == 1 and not resolved_file.exists()
    remaining = [json.loads(p.read_text()) for p in alerts.glob("*.json")]
    assert [a["status"] for a in remaining] == ["firing"]
