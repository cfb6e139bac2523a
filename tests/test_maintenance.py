"""Maintenance: resolved alerts older than 24 h, logs older than 7 days, backups beyond retention."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.alerts.api import fire_alert, reconcile
from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.backup.metadata import BackupInfo, write_metadata
from migration_guard.tasks.maintenance.cleanup import delete_old_logs


def _age(path: Path, days: float) -> None:
    moment = time.time() - days * 86400
    os.utime(path, (moment, moment))


def test_old_logs_go_recent_ones_stay(tmp_path: Path) -> None:
    (tmp_path / "alerts").mkdir()
    old, recent, rotated = tmp_path / "healthcheck.log", tmp_path / "migrate.log", tmp_path / "x.log.1"
    for path in (old, recent, rotated):
        path.write_text("{}\n")
    corrupt = tmp_path / "alerts" / "a.json.corrupt"
    corrupt.write_text("x")
    alert_file = tmp_path / "alerts" / "keep.json"
    alert_file.write_text("{}")
    for path in (old, rotated, corrupt, alert_file):
        _age(path, 8)

    deleted = delete_old_logs(tmp_path, timedelta(days=7))

    assert sorted(Path(p).name for p in deleted) == ["a.json.corrupt", "healthcheck.log", "x.log.1"]
    assert recent.exists() and alert_file.exists()


@pytest.mark.prefect
def test_maintenance_flow(prefect_harness: None, tmp_path: Path) -> None:
    from migration_guard.flows.maintenance import maintenance_flow

    settings = load_settings(alerts_dir=tmp_path / "alerts")
    firing = fire_alert(settings, check="a", database="d", category="UNKNOWN", severity="LOW", title="t",
                        message="m", impact="i", suggestions=[], component="test")
    old = fire_alert(settings, check="b", database="d", category="UNKNOWN", severity="LOW", title="t",
                     message="m", impact="i", suggestions=[], component="test")
    reconcile(settings, [], [("b", "d")], now=utcnow() - timedelta(hours=30))
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "healthcheck.log").write_text("{}\n")
    _age(logs / "healthcheck.log", 10)
    backups = tmp_path / "backups"
    backups.mkdir()
    for days in (1, 20, 30):
        dump = backups / f"app-{days}.dump"
        dump.write_bytes(b"PGDMP")
        write_metadata(BackupInfo(path=dump, database="app", created_at=datetime.now(UTC) - timedelta(days=days),
                                  size_bytes=5, sha256="0" * 64, reason="test", verified=True))

    result = maintenance_flow(alerts_dir=str(tmp_path / "alerts"), log_dir=str(logs), backup_dir=str(backups),
                              backup_keep_last=1, backup_keep_days=14)

    assert result["alerts_deleted"] == [old.id]
    assert (tmp_path / "alerts" / f"{firing.id}.json").exists()
    assert [Path(p).name for p in result["logs_deleted"]] == ["healthcheck.log"]
    assert sorted(Path(p).name for p in result["backups_deleted"]) == ["app-20.dump", "app-30.dump"]
    assert (backups / "app-1.dump").exists()
