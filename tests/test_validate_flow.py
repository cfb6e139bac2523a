"""The validate flow runs for real under Prefect's test harness: tasks, report, artifact."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.validate.report_artifact import report_artifact_key as artifact_key
from tests.helpers import make_sql_project

pytestmark = pytest.mark.prefect


def test_flow_reports_and_publishes_the_artifact(prefect_harness: None, db: psycopg.Connection, db_url: str,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.artifacts import Artifact

    from migration_guard.flows.validate import validate_flow

    db.execute("CREATE TABLE items (id int)")
    folder = make_sql_project(tmp_path, {"001": "ALTER TABLE items ADD COLUMN note text;"})
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "backups"))

    result = validate_flow(database_url=db_url, migrations_dir=str(folder))

    assert result["ok"] is True, result
    assert [c["status"] for c in result["checks"]] == ["PASS"] * 10
    assert Path(result["backup"]["path"]).exists()
    artifact = Artifact.get(artifact_key(db.info.dbname))
    assert artifact is not None
    assert "safe to migrate" in str(artifact.data)


def test_flow_fails_on_a_held_migration_lock(prefect_harness: None, db: psycopg.Connection, db_url: str,
                                             tmp_path: Path) -> None:
    from migration_guard.flows.validate import ValidationFailed, validate_flow
    from migration_guard.tasks.ledgers.sqldir import SqlDirLedger

    folder = make_sql_project(tmp_path, {"001": "CREATE TABLE t (id int);"})
    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SqlDirLedger.lock_key,))
        result = validate_flow(database_url=db_url, migrations_dir=str(folder), backup=False)
        with pytest.raises(ValidationFailed) as caught:
            validate_flow(database_url=db_url, migrations_dir=str(folder), backup=False, raise_on_fail=True)

    checks = {c["name"]: c for c in result["checks"]}
    assert result["ok"] is False and checks["advisory-lock"]["status"] == "FAIL"
    assert "advisory-lock" in caught.value.message


def test_artifact_keys_are_what_prefect_accepts() -> None:
    assert artifact_key("My_App.Prod") == "validation-my-app-prod"
    assert artifact_key("__") == "validation-database"


def test_cli_runs_the_flow_with_flag(prefect_harness: None, db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    import json

    from tests.helpers import run_cli

    folder = make_sql_project(tmp_path, {"001": "CREATE TABLE t (id int);"})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(folder), "BACKUP_DIR": str(tmp_path / "b")}

    result = run_cli(["validate", "--flow", "--json", "--no-backup"], env=env)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["checks"][-1]["status"] == "SKIP"
