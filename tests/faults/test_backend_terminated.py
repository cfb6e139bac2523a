"""The backend of a running migration-guard session terminated (pg_terminate_backend from the
test; the shared server is never restarted) during safe-migrate, recover, backup and healthcheck.
Afterwards nothing is lost: the ledger agrees with the schema, a re-run completes, existing backups
restore, alert files are valid JSON, and the operator was told what to do."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.faults.support import (
    SQL_LEDGER, LedgerBlocker, alert_files, assert_backup_restores, assert_no_duplicate_applied, assert_operator_error,
    columns, indexes, ledger_rows, recover_project, sessions, sessions_all, spawn_cli, states, status_json, terminate,
    wait_for,
)
from tests.helpers import add_prisma_migration, make_prisma_project, run_cli, run_cli_process

pytestmark = pytest.mark.faults

INIT = "20240101000000_init"
NEXT = "20240102000000_next"


def prisma_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(tmp_path / "prisma" / "migrations"),
            "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"),
            "LOG_DIR": str(tmp_path / "logs"), **extra}


def applied_base(tmp_path: Path, db_url: str) -> Path:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})
    done = run_cli(["migrate", "--skip-backup"], env=prisma_env(db_url, tmp_path))
    assert done.exit_code == 0, done.output
    return migrations


def test_safe_migrate_backend_terminated_inside_the_transaction(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = applied_base(tmp_path, db_url)
    add_prisma_migration(migrations, NEXT, "ALTER TABLE accounts ADD COLUMN email text;\nSELECT pg_sleep(2);\n"
                                            "ALTER TABLE accounts ADD COLUMN name text;\n")
    env = prisma_env(db_url, tmp_path)
    run = spawn_cli(["migrate", "--skip-backup"], env, tmp_path)

    pid = wait_for(lambda: sessions(db, query_like="%pg_sleep%"), running=run, what="the migration's pg_sleep")[0][0]
    terminate(db, pid)
    code = run.wait()

    assert code == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert "rolled back completely" in run.stdout and "terminating connection" in run.stdout
    assert "re-run: `migration-guard migrate`" in run.stdout
    assert "fix " + str(migrations / NEXT / "migration.sql") not in run.stdout  # the file is fine: no wrong advice
    assert columns(db, "accounts") == ["id"]  # nothing of the transaction remains
    status = status_json(env, tmp_path)
    assert states(status)[NEXT] in {"pending", "rolled_back"}
    assert [r[:3] for r in ledger_rows(db)] == [(INIT, True, False), (NEXT, False, True)]
    assert alert_files(tmp_path / "alerts")  # the failure alerted, as valid JSON

    again = run_cli_process(["migrate", "--skip-backup"], env=env, cwd=tmp_path)

    assert again.exit_code == 0, again.output
    assert columns(db, "accounts") == ["id", "email", "name"]
    assert set(states(status_json(env, tmp_path)).values()) == {"applied"}
    assert_no_duplicate_applied(ledger_rows(db))


def test_safe_migrate_backend_terminated_between_concurrent_index_statements(
    tmp_path: Path, db_url: str, db: psycopg.Connection
) -> None:
    migrations = applied_base(tmp_path, db_url)
    db.execute("ALTER TABLE accounts ADD COLUMN email text, ADD COLUMN name text")
    add_prisma_migration(migrations, NEXT, "CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n"
                                            "SELECT pg_sleep(2);\n"
                                            "CREATE INDEX CONCURRENTLY accounts_name_idx ON accounts (name);\n")
    env = prisma_env(db_url, tmp_path)
    run = spawn_cli(["migrate", "--skip-backup"], env, tmp_path)

    pid = wait_for(lambda: sessions(db, query_like="%pg_sleep%"), running=run, what="the pg_sleep step")[0][0]
    terminate(db, pid)
    code = run.wait()

    assert code == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert "stopped after 1 of 3" in run.stdout and "resume" in run.stdout
    assert indexes(db, "accounts") == {"accounts_pkey": True, "accounts_email_idx": True}
    rows = ledger_rows(db)
    assert rows[-1] == (NEXT, False, False, 1)  # failed, exactly one statement recorded
    assert states(status_json(env, tmp_path))[NEXT] == "failed"

    again = run_cli_process(["migrate", "--skip-backup"], env=env, cwd=tmp_path)

    assert again.exit_code == 0, again.output
    assert indexes(db, "accounts") == {"accounts_pkey": True, "accounts_email_idx": True, "accounts_name_idx": True}
    assert set(states(status_json(env, tmp_path)).values()) == {"applied"}
    rows = ledger_rows(db)
    assert_no_duplicate_applied(rows)
    assert [r for r in rows if r[0] == NEXT] == [(NEXT, True, False, 3)]  # the same row, resumed


def test_recover_backend_terminated_mid_repair(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    env = recover_project(tmp_path, db_url)
    blocker = LedgerBlocker(db_url)
    try:
        run = spawn_cli(["recover", "--yes", "--no-drift"], env, tmp_path)
        pid = wait_for(lambda: sessions(db, query_like="%schema_migrations%", waiting_on_lock=True), running=run,
                       what="the repair's ledger write")[0][0]
        terminate(db, pid)
        code = run.wait()
    finally:
        blocker.release()

    output = run.stdout + run.stderr
    assert code == 1, output
    assert "Traceback" not in output
    assert "not recovered" in output and "next:" in output
    assert columns(db, "items") == ["id", "sku", "qty", "price"]  # the repair's transaction rolled back whole
    assert states(status_json(env, tmp_path))["0002_prices"] == "failed"
    assert alert_files(tmp_path / "alerts")  # valid JSON

    again = run_cli_process(["recover", "--yes", "--no-drift"], env=env, cwd=tmp_path)

    assert again.exit_code == 0, again.output
    assert columns(db, "items") == ["id", "sku", "qty", "price", "note"]
    assert "items_price_idx" in indexes(db, "items")
    assert set(states(status_json(env, tmp_path)).values()) == {"applied"}
    assert_no_duplicate_applied(ledger_rows(db, SQL_LEDGER))


def test_backup_pg_dump_session_terminated(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    env = prisma_env(db_url, tmp_path)
    db.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, note text)")
    db.execute("INSERT INTO accounts VALUES (1, 'kept')")
    first = run_cli_process(["backup", "create", "--json"], env=env, cwd=tmp_path)
    assert first.exit_code == 0, first.output
    existing = Path(json.loads(first.stdout)["path"])
    db.execute("CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS filler FROM generate_series(1, 300000) g")

    run = spawn_cli(["backup", "create"], env, tmp_path)
    # pg_dump's own COPY (not the size estimate's sampling COPY (SELECT ... FROM "public"."big" ...))
    pid = wait_for(lambda: sessions(db, query_like="COPY public.big %"), running=run,
                   what="pg_dump copying the big table")[0][0]
    terminate(db, pid)
    code = run.wait()

    assert code == 1, run.stdout + run.stderr
    assert_operator_error(run.stderr, "pg_dump")
    backups = sorted(p.name for p in (tmp_path / "backups").iterdir() if not p.name.endswith(".json"))
    assert backups == [existing.name], backups  # no partial dump left that could pass for a backup
    listed = run_cli_process(["backup", "list", "--json"], env=env, cwd=tmp_path)
    assert [Path(b["path"]).name for b in json.loads(listed.stdout)] == [existing.name]
    assert_backup_restores(existing, env, tmp_path, "SELECT note FROM accounts WHERE id = 1", "kept")


def test_healthcheck_backend_terminated_mid_run(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    config = tmp_path / "healthcheck.yaml"
    config.write_text(
        "databases:\n  - name: app\n    url_env: DATABASE_URL\n"
        "assertions:\n  - name: slow_probe\n    database: app\n    query: SELECT 0 FROM pg_sleep(1.5)\n"
        "    comparison: \"==\"\n    threshold: 0\n    severity: HIGH\n    message: probe\n"
        "  - name: after\n    database: app\n    query: SELECT 0\n"
        "    comparison: \"==\"\n    threshold: 0\n    severity: HIGH\n    message: after\n")
    env = prisma_env(db_url, tmp_path, HEALTHCHECK_CONFIG=str(config), CHECK_TIMEOUT="20")
    env.pop("MIGRATIONS_DIR")
    run = spawn_cli(["healthcheck", "--json"], env, tmp_path)

    pid = wait_for(lambda: sessions(db, query_like="%pg_sleep(1.5)%"), running=run, what="the slow assertion")[0][0]
    terminate(db, pid)
    code = run.wait(timeout=60)

    assert "Traceback" not in run.stderr, run.stderr
    report = json.loads(run.stdout)
    # the interrupted check is retried once on a new session, and the checks after it are not
    # left on the dead one: the run is as complete as if nothing had happened
    assert code == report["exit_code"] == 0, run.stdout
    assert {c["check"]: c["status"] for c in report["checks"]}["assertion:after"] == "OK"
    assert all(c["status"] == "OK" for c in report["checks"]), report["checks"]
    alert_files(tmp_path / "alerts")  # every file parses
    for line in (tmp_path / "logs" / "healthcheck.log").read_text().splitlines():
        json.loads(line)


def test_migration_lock_session_terminated_stops_before_the_next_migration(
    tmp_path: Path, db_url: str, db: psycopg.Connection
) -> None:
    migrations = applied_base(tmp_path, db_url)
    add_prisma_migration(migrations, NEXT, "ALTER TABLE accounts ADD COLUMN email text;\nSELECT pg_sleep(2);\n")
    add_prisma_migration(migrations, "20240103000000_later", "ALTER TABLE accounts ADD COLUMN name text;\n")
    env = prisma_env(db_url, tmp_path)
    run = spawn_cli(["migrate", "--skip-backup"], env, tmp_path)

    wait_for(lambda: sessions(db, query_like="%pg_sleep%"), running=run, what="the first migration")
    (lock_pid,) = [pid for pid, app, _state, _query in sessions_all(db) if app == "migration-guard migrate lock"]
    terminate(db, lock_pid)  # e.g. idle_session_timeout, or a DBA ending idle sessions
    code = run.wait()

    output = run.stdout + run.stderr
    assert code == 1, output
    assert "Traceback" not in output
    assert "migration lock" in output and "lost" in output
    # the migration running when the lock vanished finishes in its own transaction; the next one
    # never runs unprotected (another migrator may already hold the lock)
    assert columns(db, "accounts") == ["id", "email"]
    assert states(status_json(env, tmp_path))["20240103000000_later"] == "pending"
    assert f"| {NEXT} | transaction | applied" in run.stdout  # the report says what is committed
    (alert,) = alert_files(tmp_path / "alerts")
    assert "committed" in alert["impact"], alert["impact"]

    again = run_cli_process(["migrate", "--skip-backup"], env=env, cwd=tmp_path)

    assert again.exit_code == 0, again.output
    assert columns(db, "accounts") == ["id", "email", "name"]
    assert_no_duplicate_applied(ledger_rows(db))
