"""`migration-guard migrate` end to end against real PostgreSQL: dry run, backups, hooks, the
start-up check, rollback choices and --on-failure=restore, concurrent runs, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.helpers import CLI, add_prisma_migration, make_prisma_project, run_cli
from tests.recording_server import recording_server

INIT = "20240101000000_init"
NEXT = "20240102000000_next"
INDEX = "20240103000000_index"


def env_for(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(tmp_path / "prisma" / "migrations"),
            "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"), **extra}


def tables(db: psycopg.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def alerts(tmp_path: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "alerts").rglob("*.json"))]


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    make_prisma_project(tmp_path, {
        INIT: "ALTER TABLE users ADD COLUMN name text;\n",
        INDEX: "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
    })

    result = run_cli(["migrate", "--dry-run"], env=env_for(db_url, tmp_path))
    as_json = run_cli(["migrate", "--dry-run", "--json"], env=env_for(db_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert "Nothing was changed" in result.stdout
    assert "ACCESS EXCLUSIVE on table public.users" in result.stdout
    assert "SHARE UPDATE EXCLUSIVE on table public.users" in result.stdout
    assert "Runs **transaction**" in result.stdout and "Runs **step-by-step**" in result.stdout
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx" in result.stdout
    assert "lint:" in result.stdout
    plan = json.loads(as_json.stdout)["plan"]
    assert [m["mode"] for m in plan["migrations"]] == ["transaction", "step-by-step"]
    assert tables(db) == {"users"}  # no ledger table, no column
    assert not (tmp_path / "backups").exists()


def test_migrate_validates_backs_up_applies_runs_hooks_and_the_startup_check(
    tmp_path: Path, db_url: str, db: psycopg.Connection
) -> None:
    make_prisma_project(tmp_path, {INIT: "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})
    marker = tmp_path / "generated"
    with recording_server(b"healthy") as app:
        result = run_cli(["migrate", "--hook", f"touch {marker}", "--startup-check-url", app.url],
                         env=env_for(db_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert "✅ completed" in result.stdout and "applied 1 migration(s)" in result.stdout
    assert marker.exists()
    assert len(app.requests) == 1
    assert list((tmp_path / "backups").glob("*-pre-migrate.dump"))
    assert "accounts" in tables(db)
    again = run_cli(["migrate", "--skip-backup"], env=env_for(db_url, tmp_path))
    assert again.exit_code == 0 and "no pending migrations" in again.stdout
    nothing = run_cli(["migrate", "--json"], env=env_for(db_url, tmp_path))  # backups on: nothing to protect
    assert nothing.exit_code == 0, nothing.output
    assert json.loads(nothing.stdout)["backup"] is None
    assert len(list((tmp_path / "backups").glob("*-pre-migrate.dump"))) == 1  # no second dump
    [row] = [c for c in json.loads(nothing.stdout)["validation"]["checks"] if c["name"] == "backup"]
    assert row["status"] == "SKIP" and row["reason"] == "not taken: no pending migrations"


def test_failure_after_commit_reports_rollback_choices_and_alerts(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})
    (migrations / INIT / "down.sql").write_text("DROP TABLE accounts;\n")

    result = run_cli(["migrate", "--json", "--startup-check-command", f"{sys.executable} -c 'raise SystemExit(4)'"],
                     env=env_for(db_url, tmp_path))

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["failed_stage"] == "startup-check" and report["committed"] and report["applied"] == [INIT]
    choices = " ".join(report["rollback_choices"])
    backup = report["backup"]["path"]
    assert "down.sql" in choices and f"migration-guard backup restore {backup} --replace --yes" in choices
    assert "fix forward" in choices
    assert "accounts" in tables(db)  # reported, not undone: restoring needs --on-failure=restore
    (alert,) = alerts(tmp_path)
    assert alert["severity"] == "HIGH" and alert["status"] == "firing"
    assert any(backup in s for s in alert["suggestions"])


def test_on_failure_restore_puts_the_backup_back(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE accounts (id bigint PRIMARY KEY);\n"})
    assert run_cli(["migrate"], env=env_for(db_url, tmp_path)).exit_code == 0
    db.execute("INSERT INTO accounts VALUES (1), (2)")
    add_prisma_migration(migrations, NEXT, "DELETE FROM accounts WHERE id = 2;\nALTER TABLE accounts ADD COLUMN note text;\n")

    result = run_cli(["migrate", "--json", "--on-failure", "restore", "--startup-check-command", "false"],
                     env=env_for(db_url, tmp_path))

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["restored"] and report["restored"]["replaced"]
    assert "restored the pre-migrate backup" in report["recovery"][0]
    assert db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 2  # the deleted row is back
    assert db.execute("SELECT count(*) FROM _prisma_migrations WHERE migration_name = %s", (NEXT,)).fetchone()[0] == 0


def test_three_processes_at_once_apply_once(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    make_prisma_project(tmp_path, {
        INIT: "CREATE TABLE a (id int);\nSELECT pg_sleep(0.5);\n",
        NEXT: "CREATE TABLE b (id int);\n",
    })
    env = {**env_for(db_url, tmp_path), "PATH": "/usr/bin:/bin"}
    processes = [subprocess.Popen([*CLI, "migrate", "--skip-backup", "--json", "--lock-wait", "30"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in processes]

    reports = [json.loads(out) for out, _err in outputs]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert sorted(len(r["applied"]) for r in reports) == [0, 0, 2]
    assert db.execute("SELECT migration_name, count(*) FROM _prisma_migrations GROUP BY 1 ORDER BY 1").fetchall() == \
        [(INIT, 1), (NEXT, 1)]


def test_lock_held_elsewhere_exits_1_naming_the_holder(tmp_path: Path, db_url: str) -> None:
    make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);\n"})
    with psycopg.connect(db_url, autocommit=True, application_name="prisma-migrate-deploy") as holder:
        holder.execute("SELECT pg_advisory_lock(72707369)")
        result = run_cli(["migrate", "--skip-backup", "--lock-wait", "0.5"], env=env_for(db_url, tmp_path))
    assert result.exit_code == 1
    assert "failed at **lock**" in result.stdout and "prisma-migrate-deploy" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--on-failure", "maybe"], "--on-failure must be report or restore"),
    (["--lock-timeout", "soon"], "LOCK_TIMEOUT: expected a PostgreSQL duration"),
    (["--hook", "echo 'unterminated"], "--hook"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, db_url: str, args: list[str], message: str) -> None:
    make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);\n"})
    result = run_cli(["migrate", *args], env=env_for(db_url, tmp_path))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


SLOW_SETUP = """CREATE TABLE events (id int);
INSERT INTO events SELECT g FROM generate_series(1, 12) g;
CREATE FUNCTION slow_id(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.15); RETURN i; END $$;
"""


def test_interrupted_concurrent_index_then_status_then_second_migrate_completes(
    tmp_path: Path, db_url: str, db: psycopg.Connection
) -> None:
    import time

    db.execute(SLOW_SETUP)  # set up outside the migrations (the linter misreads this PL/pgSQL body)
    make_prisma_project(tmp_path, {
        INDEX: "ALTER TABLE events ADD COLUMN kind text;\nCREATE INDEX CONCURRENTLY events_slow_idx ON events ((slow_id(id)));\n",
    })
    env = {**env_for(db_url, tmp_path), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([*CLI, "migrate", "--skip-backup"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    pid, deadline = None, time.monotonic() + 60
    while pid is None and time.monotonic() < deadline:
        row = db.execute("SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                         "AND query LIKE 'CREATE INDEX CONCURRENTLY%%events_slow_idx%%'").fetchone()
        pid = row[0] if row else None
        time.sleep(0.05)
    assert pid is not None, process.communicate(timeout=30)
    db.execute("SELECT pg_terminate_backend(%s)", (pid,))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, out + err
    assert "stopped after 1 of 2 statement(s)" in out

    status = run_cli(["status", "--json"], env=env_for(db_url, tmp_path))
    assert status.exit_code == 2
    states = {m["name"]: (m["state"], m["detail"]) for m in json.loads(status.stdout)["migrations"]}
    assert states[INDEX][0] == "failed" and "after 1 step(s)" in states[INDEX][1]

    second = run_cli(["migrate", "--skip-backup"], env=env_for(db_url, tmp_path))

    assert second.exit_code == 0, second.output
    assert "will be resumed" in second.stdout and "events_slow_idx" in second.stdout
    assert run_cli(["status"], env=env_for(db_url, tmp_path)).exit_code == 0
    assert db.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0] == 0


def test_not_valid_constraints_are_validated_when_asked(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    make_prisma_project(tmp_path, {
        INIT: "CREATE TABLE orders (id bigint PRIMARY KEY, total int);\n",
        NEXT: "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0) NOT VALID;\n",
    })
    result = run_cli(["migrate", "--skip-backup", "--validate-constraints", "--json"], env=env_for(db_url, tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verify"]["validated_constraints"] == ["public.orders.total_positive"]
    assert db.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'total_positive'").fetchone()[0]
