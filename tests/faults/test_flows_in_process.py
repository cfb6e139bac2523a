"""The safe-migrate flow run in-process under Prefect (the session harness) while its backend is
terminated inside the migration's transaction: the run ends Failed with the report, the ledger agrees
with the schema, and a second flow run completes."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from tests.faults.support import (
    alert_files, assert_no_duplicate_applied, columns, ledger_rows, sessions, states, status_json, terminate, wait_for,
)
from tests.helpers import make_prisma_project

pytestmark = [pytest.mark.faults, pytest.mark.prefect]

INIT = "20240101000000_init"
NEXT = "20240102000000_next"


def test_safe_migrate_flow_backend_terminated_in_the_transaction(
    tmp_path: Path, db_url: str, db: psycopg.Connection, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migration_guard.flows.safe_migrate import SafeMigrateFailed, safe_migrate_flow

    migrations = make_prisma_project(tmp_path, {
        INIT: "CREATE TABLE accounts (id bigint PRIMARY KEY);\nSELECT pg_sleep(2);\nALTER TABLE accounts ADD COLUMN email text;\n",
    })
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "ALERTS_DIR": str(tmp_path / "alerts"),
           "BACKUP_DIR": str(tmp_path / "backups")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    killed: list[int] = []

    def kill_when_sleeping() -> None:
        pid = wait_for(lambda: sessions(watcher, query_like="%pg_sleep%"), timeout=60, what="the pg_sleep")[0][0]
        terminate(watcher, pid)
        killed.append(pid)

    with psycopg.connect(db_url, autocommit=True) as watcher:
        killer = threading.Thread(target=kill_when_sleeping)
        killer.start()
        state = safe_migrate_flow(backup=False, return_state=True)
        killer.join(30)

    assert killed and state.is_failed()
    failure = state.result(raise_on_failure=False)
    assert isinstance(failure, SafeMigrateFailed)
    assert failure.report.failed_stage == "apply" and "57P01" in failure.report.error
    assert db.execute("SELECT to_regclass('public.accounts')").fetchone()[0] is None  # rolled back whole
    assert states(status_json(env, tmp_path))[INIT] in {"pending", "rolled_back"}
    assert alert_files(tmp_path / "alerts")

    again = safe_migrate_flow(backup=False, return_state=True)

    assert again.is_completed(), again.message
    assert columns(db, "accounts") == ["id", "email"]
    assert set(states(status_json(env, tmp_path)).values()) == {"applied"}
    assert_no_duplicate_applied(ledger_rows(db))
