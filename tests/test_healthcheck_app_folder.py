"""The README's cron line, `cd /srv/app && migration-guard healthcheck`, in an app folder with
`prisma/migrations` and a failed migration: CRITICAL (exit 2) with the HIGH alert, not a false OK.
The healthcheck finds the migrations folder exactly as `status`, `migrate` and `recover` do."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from migration_guard.tasks.ledgers.prisma import PrismaLedger
from tests.helpers import make_prisma_project, run_cli, run_cli_process

INIT, BAD = "20240101000000_init", "20240102000000_bad"


def _failed_project(app: Path, db: psycopg.Connection) -> None:
    directory = make_prisma_project(app, {INIT: "CREATE TABLE a (id int);", BAD: "SELECT 1/0;"})
    ledger = PrismaLedger(directory)
    ledger.ensure_table(db)
    init, bad = ledger.read_migrations()
    db.execute(init.sql)
    ledger.mark_applied(db, init)
    ledger.record_failed(db, ledger.record_started(db, bad), "ERROR: division by zero")


def test_the_cron_line_in_an_app_folder_reports_the_failed_migration(tmp_path: Path, db_url: str,
                                                                      db: psycopg.Connection) -> None:
    _failed_project(tmp_path, db)
    done = run_cli_process(["healthcheck"], env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert done.exit_code == 2, done.stdout + done.stderr
    assert "migrations" in done.stdout and f"Migration {BAD} failed" in done.stdout
    alerts = [json.loads(p.read_text()) for p in (tmp_path / "logs" / "alerts").glob("*.json")]
    assert [(a["check"], a["severity"]) for a in alerts] == [("migrations", "HIGH")]


def test_status_and_healthcheck_agree_on_the_folder(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    _failed_project(tmp_path, db)
    status = run_cli(["status", "--json"], env={"DATABASE_URL": db_url}, cwd=tmp_path)
    health = run_cli(["healthcheck", "--json"], env={"DATABASE_URL": db_url, "ALERTS_DIR": str(tmp_path / "a")},
                     cwd=tmp_path)
    assert status.exit_code == 2 and health.exit_code == 2
    checks = {c["check"]: c for c in json.loads(health.stdout)["checks"]}
    assert checks["migrations"]["status"] == "CRITICAL"
