"""The safe-migrate flow runs for real under Prefect's test harness: validate subflow, backup tasks,
apply, verify, the report artifact, the alert, Failed on failure, and the dry-run plan."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from migration_guard.flows.safe_migrate import SafeMigrateFailed, safe_migrate_flow
from migration_guard.tasks.migrate.report import artifact_key
from tests.helpers import make_prisma_project

pytestmark = pytest.mark.prefect


def _artifact(key: str) -> str:
    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert artifact is not None, f"no artifact {key}"
    return artifact.data


def test_flow_applies_and_publishes_the_report(prefect_harness: None, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})

    report = safe_migrate_flow(database_url=db_url, migrations_dir=str(migrations), backup_dir=str(tmp_path / "backups"))

    assert report["ok"] and report["applied"] == ["20240101000000_init"]
    assert report["backup"]["verified"] and Path(report["backup"]["path"]).exists()
    assert report["validation"]["checks"], "the validate subflow ran"
    database = db_url.rsplit("/", 1)[-1]
    markdown = _artifact(artifact_key(f"127.0.0.1:5432/{database}"))
    assert "completed" in markdown and "20240101000000_init" in markdown and report["backup"]["path"] in markdown


def test_flow_fails_with_recovery_in_the_artifact_and_an_alert(
    prefect_harness: None, tmp_path: Path, db_url: str, db: psycopg.Connection, monkeypatch
) -> None:
    monkeypatch.setenv("ALERTS_DIR", str(tmp_path / "alerts"))
    migrations = make_prisma_project(tmp_path, {"20240101000000_broken": "CREATE TABLE t (id int);\nSELECT 1/0;\n"})

    with pytest.raises(SafeMigrateFailed) as caught:
        safe_migrate_flow(database_url=db_url, migrations_dir=str(migrations), backup_dir=str(tmp_path / "backups"))

    report = caught.value.report
    assert report.failed_stage == "apply" and not report.committed
    assert any("re-run: migration-guard migrate" in step for step in report.recovery)
    # rolled back whole: nothing to restore, so no restore command to paste (it would only lose writes)
    assert not any("migration-guard backup restore" in step for step in report.recovery)
    assert any(step.startswith("nothing was changed by this run, so nothing needs restoring (the pre-migrate "
                               f"backup stays: {report.backup_path})") for step in report.recovery)
    assert db.execute("SELECT to_regclass('public.t') IS NULL").fetchone()[0]
    database = db_url.rsplit("/", 1)[-1]
    assert "What to do now" in _artifact(artifact_key(f"127.0.0.1:5432/{database}"))
    (alert,) = [json.loads(p.read_text()) for p in (tmp_path / "alerts").rglob("*.json")]
    assert alert["check"] == "safe-migrate" and alert["status"] == "firing"
    assert any("migration-guard migrate" in s for s in alert["suggestions"])


def test_flow_dry_run_changes_nothing(prefect_harness: None, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})

    result = safe_migrate_flow(database_url=db_url, migrations_dir=str(migrations), dry_run=True)

    assert result["dry_run"] and result["plan"]["migrations"][0]["name"] == "20240101000000_init"
    assert db.execute("SELECT to_regclass('public._prisma_migrations') IS NULL").fetchone()[0]


def test_flow_takes_allow_and_backup_scope_as_parameters(prefect_harness: None, tmp_path: Path, db_url: str,
                                                        db: psycopg.Connection) -> None:
    """CI triggering safe-migrate through the API can acknowledge a destructive change for one run
    (``allow``, as ``migrate --allow``) and choose the backup's scope (``backup_scope``)."""
    db.execute("CREATE TABLE items (id int PRIMARY KEY, legacy text); CREATE TABLE logs (id int)")
    db.execute("INSERT INTO items VALUES (1, 'x'); INSERT INTO logs SELECT generate_series(1, 50)")
    migrations = make_prisma_project(tmp_path, {"20240101000000_drop_legacy": 'ALTER TABLE items DROP COLUMN "legacy";\n'})
    backups = str(tmp_path / "backups")

    with pytest.raises(SafeMigrateFailed) as blocked:
        safe_migrate_flow(database_url=db_url, migrations_dir=str(migrations), backup_dir=backups)
    report = safe_migrate_flow(database_url=db_url, migrations_dir=str(migrations), backup_dir=backups,
                               allow=["ban-drop-column"], backup_scope="scoped")

    assert blocked.value.report.failed_stage == "validate"
    assert [a["rule"] for a in blocked.value.report.acknowledgements] == ["ban-drop-column"]
    assert report["ok"] and report["applied"] == ["20240101000000_drop_legacy"]
    assert [(a["rule"], a["by"]) for a in report["acknowledged"]] == [("ban-drop-column", "--allow ban-drop-column")]
    assert report["backup"]["scope"]["mode"] == "scoped"
    assert ["public", "items"] in report["backup"]["scope"]["tables"]
    assert ["public", "logs"] not in report["backup"]["scope"]["tables"]
