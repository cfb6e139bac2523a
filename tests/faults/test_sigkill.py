"""The migration-guard process killed with SIGKILL (its whole process group, as when a container or
CI runner dies) at each step of safe-migrate and recover, detected from the outside by polling
pg_stat_activity / pg_locks / the files it writes. Then: the dead session's advisory lock goes away
once PostgreSQL notices the closed socket, a re-run completes, the end state is correct, the ledger
is consistent and has no duplicate rows."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.faults.support import (
    SQL_LEDGER, LedgerBlocker, advisory_holders, alert_files, assert_no_duplicate_applied, columns, indexes,
    ledger_rows, recover_project, sessions, spawn_cli, states, status_json, wait_for, wait_lock_released,
    wait_no_sessions,
)
from tests.helpers import add_prisma_migration, make_prisma_project, run_cli, run_cli_process

pytestmark = pytest.mark.faults

PRISMA_LOCK = 72707369
INIT = "20240101000000_init"
NEXT = "20240102000000_next"

IN_TRANSACTION = "ALTER TABLE accounts ADD COLUMN email text;\nSELECT pg_sleep(2);\nALTER TABLE accounts ADD COLUMN name text;\n"
STEPWISE = ("CREATE INDEX CONCURRENTLY accounts_note_idx ON accounts (note);\nSELECT pg_sleep(2);\n"
            "CREATE INDEX CONCURRENTLY accounts_id_note_idx ON accounts (id, note);\n")


def env_for(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(tmp_path / "prisma" / "migrations"),
            "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"),
            "LOG_DIR": str(tmp_path / "logs"), "LOCK_TIMEOUT": "2s"}


def base_project(tmp_path: Path, db_url: str, db: psycopg.Connection) -> Path:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE accounts (id bigint PRIMARY KEY, note text);\n"})
    done = run_cli(["migrate", "--skip-backup"], env=env_for(db_url, tmp_path))
    assert done.exit_code == 0, done.output
    db.execute("INSERT INTO accounts SELECT g, 'n' || g FROM generate_series(1, 1000) g")
    return migrations


def expected_after(step: str) -> tuple[list[str], set[str]]:
    """(columns of accounts, index names) once NEXT is applied."""
    if step in {"concurrent-index", "between-steps"}:
        return ["id", "note"], {"accounts_pkey", "accounts_note_idx", "accounts_id_note_idx"}
    return ["id", "note", "email", "name"], {"accounts_pkey"}


@pytest.mark.parametrize("step", ["lock-wait", "backup", "transaction", "concurrent-index", "between-steps", "hooks"])
def test_safe_migrate_killed_then_rerun(step: str, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = base_project(tmp_path, db_url, db)
    add_prisma_migration(migrations, NEXT, STEPWISE if step in {"concurrent-index", "between-steps"} else IN_TRANSACTION)
    env = env_for(db_url, tmp_path)
    args = ["migrate"] if step == "backup" else ["migrate", "--skip-backup"]
    blocker = psycopg.connect(db_url)
    marker = tmp_path / "hook-started"
    if step == "lock-wait":  # another migrator holds the lock
        blocker.execute("SELECT pg_advisory_lock(%s)", (PRISMA_LOCK,))
        blocker.commit()
    elif step == "backup":
        db.execute("CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS filler FROM generate_series(1, 300000) g")
    elif step == "concurrent-index":  # an open writing transaction makes CREATE INDEX CONCURRENTLY wait
        blocker.execute("INSERT INTO accounts VALUES (-1, 'open')")
    elif step == "hooks":
        args += ["--hook", f"sh -c 'touch {marker}; sleep 60'"]

    run = spawn_cli(args, env, tmp_path)
    try:
        if step == "lock-wait":
            wait_for(lambda: "waited" in run.stderr or sessions(db, query_like="%pg_try_advisory_lock%")
                     or len(advisory_holders(db, PRISMA_LOCK)) == 1 and (tmp_path / "run.stderr").stat().st_size > 0,
                     running=run, what="the lock wait")
            wait_for(lambda: db.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'migration-guard migrate lock'").fetchone(), running=run, what="the lock session")
        elif step == "backup":
            wait_for(lambda: sessions(db, query_like="COPY%big%"), running=run, what="pg_dump copying")
        elif step in {"transaction", "between-steps"}:
            wait_for(lambda: sessions(db, query_like="%pg_sleep%"), running=run, what="the pg_sleep statement")
        elif step == "concurrent-index":
            wait_for(lambda: sessions(db, query_like="CREATE INDEX CONCURRENTLY%", waiting_on_lock=True),
                     running=run, what="the blocked CREATE INDEX CONCURRENTLY")
        elif step == "hooks":
            wait_for(marker.exists, running=run, what="the post-migrate hook")
        run.kill()
    finally:
        if blocker.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            blocker.rollback()
        blocker.close()  # also releases the advisory lock of the lock-wait case

    wait_lock_released(db, PRISMA_LOCK)
    wait_no_sessions(db)
    rows = ledger_rows(db)
    assert_no_duplicate_applied(rows)
    if step == "hooks":  # committed before the hook ran
        assert states(status_json(env, tmp_path)) == {INIT: "applied", NEXT: "applied"}
    elif step in {"lock-wait", "backup", "transaction"}:  # nothing of NEXT reached the database
        assert columns(db, "accounts") == ["id", "note"]
        assert states(status_json(env, tmp_path))[NEXT] == "pending"
    else:  # a step-by-step row stays failed with its exact progress: resumable
        assert states(status_json(env, tmp_path))[NEXT] == "failed"
        assert rows[-1][:3] == (NEXT, False, False)
        assert rows[-1][3] == (1 if step == "between-steps" else 0)
    if step == "backup":
        listed = json.loads(run_cli_process(["backup", "list", "--json"], env=env, cwd=tmp_path).stdout)
        assert listed == []  # the killed dump is not offered as a backup

    again = run_cli_process(args if step != "hooks" else ["migrate", "--skip-backup"], env=env, cwd=tmp_path)

    assert again.exit_code == 0, again.output
    expected_columns, expected_indexes = expected_after(step)
    assert columns(db, "accounts") == expected_columns
    assert indexes(db, "accounts") == {name: True for name in expected_indexes}
    assert set(states(status_json(env, tmp_path)).values()) == {"applied"}
    rows = ledger_rows(db)
    assert_no_duplicate_applied(rows)
    assert [r[0] for r in rows if r[1]] == [INIT, NEXT]
    assert not advisory_holders(db, PRISMA_LOCK)
    alert_files(tmp_path / "alerts")  # every file parses


@pytest.mark.parametrize("step", ["backup", "repair-transaction"])
def test_recover_killed_then_rerun(step: str, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    from migration_guard.tasks.ledgers.sqldir import SqlDirLedger

    env = recover_project(tmp_path, db_url)
    blocker = None
    if step == "backup":
        db.execute("CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS filler FROM generate_series(1, 300000) g")
    else:
        blocker = LedgerBlocker(db_url)
    try:
        run = spawn_cli(["recover", "--yes", "--no-drift"], env, tmp_path)
        if step == "backup":
            wait_for(lambda: sessions(db, query_like="COPY%big%"), running=run, what="pg_dump copying")
        else:
            wait_for(lambda: sessions(db, query_like="%schema_migrations%", waiting_on_lock=True), running=run,
                     what="the repair's ledger write")
            assert advisory_holders(db, SqlDirLedger.lock_key)  # the repair holds the migration lock
        run.kill()
    finally:
        if blocker is not None:
            blocker.release()

    wait_lock_released(db, SqlDirLedger.lock_key)
    wait_no_sessions(db)
    # The ledger fix and COMMIT are pipelined with the repair's statements, so a run killed while its
    # ledger write waits may still commit once the lock is granted — but only as a whole: the schema
    # and the ledger always agree.
    committed = columns(db, "items") == ["id", "sku", "qty", "price", "note"]
    if not committed:
        assert columns(db, "items") == ["id", "sku", "qty", "price"]
    assert states(status_json(env, tmp_path))["0002_prices"] == ("applied" if committed else "failed")
    assert ("items_price_idx" in indexes(db, "items")) == committed

    again = run_cli_process(["recover", "--yes", "--no-drift"], env=env, cwd=tmp_path)

    assert again.exit_code == 0, again.output
    assert columns(db, "items") == ["id", "sku", "qty", "price", "note"]
    assert set(states(status_json(env, tmp_path)).values()) == {"applied"}
    assert_no_duplicate_applied(ledger_rows(db, SQL_LEDGER))
    assert not advisory_holders(db, SqlDirLedger.lock_key)
