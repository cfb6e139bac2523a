"""Auto-recovery (issue 17): each safe class reproduced on real PostgreSQL, repaired by the
healthcheck under AUTO_RECOVER=safe and left alone (alert only, with the command) under off.

- a real idle session (a frozen client process) holding Prisma's migration lock;
- a real failed CREATE INDEX CONCURRENTLY leaving an INVALID index;
- real failed migrations made by the real Prisma CLI (`prisma migrate deploy`, all-or-nothing and
  SHIM_SPLIT_SCRIPT=1 statement by statement), judged afterwards by `prisma migrate status`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from migration_guard.tasks.alerts.api import list_alerts
from migration_guard.tasks.healthcheck.pipeline import run_healthcheck
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.ledgers.prisma import PRISMA_LOCK_KEY, PrismaLedger
from migration_guard.tasks.settings import load_settings
from tests.faults.support import wait_for
from tests.helpers import make_prisma_project
from tests.recording_server import recording_server

HOLD_LOCK = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="stuck deploy")
conn.execute("SELECT pg_advisory_lock(72707369)")
print(conn.info.backend_pid, flush=True)
sys.stdin.read()
"""


def _settings(tmp_path: Path, db_url: str, policy: str, *, migrations: Path | None = None,
              stale_lock: str = "0s", **extra: Any):
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "healthcheck.json"
    config.write_text(json.dumps({"thresholds": {"stale_migration_lock": stale_lock}}))
    return load_settings(database_url=db_url, migrations_dir=migrations, auto_recover=policy,
                         healthcheck_config=config, alerts_dir=tmp_path / "alerts", log_dir=tmp_path / "logs",
                         backup_dir=tmp_path / "backups", state_dir=tmp_path / "state", **extra)


def _check(report: HealthReport, name: str):
    return next(r for r in report.results if r.check == name)


def _rows(report: HealthReport) -> list:
    return [r for r in report.results if r.check == "auto_recover"]


def _alerts(settings, *, resolved: bool = False) -> list:
    alerts, _ = list_alerts(settings, include_resolved=resolved)
    return alerts


@pytest.fixture
def frozen_lock_holder(db_url: str) -> Iterator[int]:
    """A client process that took Prisma's migration lock and then froze (SIGSTOP): its session
    stays idle, holding the lock, as after a deploy whose client hung. Yields the backend pid."""
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db_url], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        pid = int(process.stdout.readline())
        process.send_signal(signal.SIGSTOP)
        yield pid
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)


def _lock_holders(db: psycopg.Connection) -> list[int]:
    return [r[0] for r in db.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (PRISMA_LOCK_KEY,)).fetchall()]


def test_safe_terminates_an_idle_session_holding_the_migration_lock(
        tmp_path: Path, db_url: str, db: psycopg.Connection, frozen_lock_holder: int) -> None:
    pid = frozen_lock_holder
    with recording_server() as hook:
        settings = _settings(tmp_path, db_url, "safe", alert_webhook_url=hook.url)
        report = run_healthcheck(settings)
    sent = [(r.json()["event"], r.json()["alert"]["title"]) for r in hook.requests]

    assert _lock_holders(db) == []
    assert db.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0
    [row] = _rows(report)
    assert row.status.value == "OK" and row.summary.startswith(f"done: terminate pid {pid}")
    assert "stuck deploy" in row.summary and "pg_advisory_lock(72707369)" in row.summary
    assert _check(report, "stale_migration_lock").status.value == "OK"  # checked again after the action
    [action] = report.to_dict()["auto_recover"]["actions"]
    assert action["state"] == "done" and action["commands"] == [f"SELECT pg_terminate_backend({pid});"]
    assert action["detail"] == f"pid {pid} terminated; the migration lock is free"
    recovery = [a for a in _alerts(settings, resolved=True) if a.check.startswith("auto_recover/")]
    assert len(recovery) == 1 and recovery[0].status.value == "resolved"
    assert recovery[0].title == f"Auto-recovery on {row.database}: done: {action['description']}"
    assert not [a for a in _alerts(settings) if a.check == "stale_migration_lock"]
    # alerted before and after: "about to …" went out, then its resolution saying what was done
    assert sent == [("new", f"Auto-recovery on {row.database}: about to {action['description']}"),
                    ("resolved", f"Auto-recovery on {row.database}: done: {action['description']}")]


def test_off_and_the_grace_period_leave_the_lock_holder_alone(
        tmp_path: Path, db_url: str, db: psycopg.Connection, frozen_lock_holder: int) -> None:
    pid = frozen_lock_holder
    off = run_healthcheck(_settings(tmp_path / "off", db_url, "off"))
    within_grace = run_healthcheck(_settings(tmp_path / "grace", db_url, "safe", stale_lock="1h"))

    assert _lock_holders(db) == [pid]
    assert off.to_dict()["auto_recover"] == {"policy": "off", "actions": []} and not _rows(off)
    problem = _check(off, "stale_migration_lock").problem
    assert problem.severity == "HIGH" and problem.suggestions[0].startswith(f"SELECT pg_terminate_backend({pid});")
    assert not within_grace.auto_recover.actions and _check(within_grace, "stale_migration_lock").status.value == "OK"


def test_safe_never_ends_our_own_migrates_lock_session(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    with psycopg.connect(db_url, autocommit=True, application_name="migration-guard migrate lock") as lock, \
            psycopg.connect(db_url, autocommit=True, application_name="migration-guard migrate"):
        lock.execute("SELECT pg_advisory_lock(72707369)")
        report = run_healthcheck(_settings(tmp_path, db_url, "safe"))
        assert _lock_holders(db) == [lock.info.backend_pid]
    assert not report.auto_recover.actions


def test_safe_never_ends_a_lock_holder_that_is_running_a_statement(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    from tests.checks_support import background_statement

    with background_statement(db_url, "SELECT pg_advisory_lock(72707369), pg_sleep(30)") as pid:
        wait_for(lambda: _lock_holders(db) == [pid], timeout=10, what="the lock to be taken")
        report = run_healthcheck(_settings(tmp_path, db_url, "safe"))
        assert _lock_holders(db) == [pid]
    assert not report.auto_recover.actions


INIT, EMAIL_INDEX = "20240101000000_init", "20240102000000_email_index"
CIC = "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n"


def _invalid_index_of_an_applied_migration(tmp_path: Path, db: psycopg.Connection) -> Path:
    """A real failed CREATE INDEX CONCURRENTLY (duplicate emails) left users_email_key INVALID; its
    migration was then marked applied (as `prisma migrate resolve --applied` does)."""
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE users (id int, email text);\n", EMAIL_INDEX: CIC})
    db.execute("CREATE TABLE users (id int, email text)")
    db.execute("INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x'), (3, 'b@x')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(CIC)
    ledger = PrismaLedger(migrations)
    ledger.ensure_table(db)
    for migration in ledger.read_migrations():
        ledger.mark_applied(db, migration)
    return migrations


def _index_state(db: psycopg.Connection, name: str) -> str:
    row = db.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                     "WHERE c.relname = %s", (name,)).fetchone()
    return "absent" if row is None else "valid" if row[0] else "invalid"


def test_safe_rebuilds_an_invalid_index_from_its_migrations_statement(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = _invalid_index_of_an_applied_migration(tmp_path, db)
    db.execute("DELETE FROM users WHERE id = 2")  # the duplicate that failed the build is gone
    settings = _settings(tmp_path, db_url, "safe", migrations=migrations)

    report = run_healthcheck(settings)

    assert _index_state(db, "users_email_key") == "valid"
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("INSERT INTO users VALUES (4, 'b@x')")
    [action] = report.auto_recover.actions
    assert action.state == "done" and action.detail == "dropped and built again; the index is valid"
    assert action.description == ("drop the INVALID index public.users_email_key on users concurrently and build it again "
                                  f"from statement 1 of the applied migration {EMAIL_INDEX}")
    assert action.commands == ("DROP INDEX CONCURRENTLY public.users_email_key;",
                               "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);")
    assert _check(report, "invalid_indexes").status.value == "OK"
    assert [r.status.value for r in _rows(report)] == ["OK"]
    assert not [a for a in _alerts(settings) if a.check in ("invalid_indexes",) or a.check.startswith("auto_recover/")]


def test_off_leaves_the_invalid_index_with_the_commands_to_run(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = _invalid_index_of_an_applied_migration(tmp_path, db)
    db.execute("DELETE FROM users WHERE id = 2")

    report = run_healthcheck(_settings(tmp_path, db_url, "off", migrations=migrations))

    assert _index_state(db, "users_email_key") == "invalid"
    assert not report.auto_recover.actions and not _rows(report)
    assert "REINDEX INDEX CONCURRENTLY public.users_email_key;" in _check(report, "invalid_indexes").problem.suggestions


def test_a_rebuild_that_fails_again_alerts_high_and_is_not_retried(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = _invalid_index_of_an_applied_migration(tmp_path, db)  # the duplicates are still there
    with recording_server() as hook:
        settings = _settings(tmp_path, db_url, "safe", migrations=migrations, alert_webhook_url=hook.url)
        first = run_healthcheck(settings)
        second = run_healthcheck(settings)
    sent = [(r.json()["event"], r.json()["alert"]["check"]) for r in hook.requests]

    assert _index_state(db, "users_email_key") == "invalid"
    [failed] = first.auto_recover.actions
    assert failed.state == "failed" and "could not create unique index" in failed.detail, failed.detail
    assert failed.detail.endswith("fix the cause, then run: "
                                  "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);")
    assert [r.status.value for r in _rows(first)] == ["CRITICAL"] and first.exit_code == 2
    [alert] = [a for a in _alerts(settings) if a.check.startswith("auto_recover/")]
    assert alert.severity.value == "HIGH" and alert.title.startswith(f"Auto-recovery on {failed.database} failed: could not drop")
    [again] = second.auto_recover.actions
    assert again.state == "skipped" and again.detail.startswith("not tried again")
    assert [a.id for a in _alerts(settings) if a.check.startswith("auto_recover/")] == [alert.id]
    assert [e for e, check in sent if check == alert.check] == ["new", "escalated"]  # about to, then failed


BROKEN = "20240102000000_broken"
#: the first statement fails on the duplicate values INIT inserts; nothing of BROKEN runs
WITH_DUPLICATES = "CREATE TABLE t (id int, v int);\nINSERT INTO t VALUES (1, 1), (2, 1);\n"
FAILS_FIRST = "CREATE UNIQUE INDEX t_v_key ON t (v);\nALTER TABLE t ADD COLUMN w int;\n"


def _prisma(cli: Path, root: Path, db_url: str, *args: str, split: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SHIM_SPLIT_SCRIPT"}
    env["DATABASE_URL"] = db_url
    if split:
        env["SHIM_SPLIT_SCRIPT"] = "1"
    return subprocess.run([str(cli), *args], cwd=root, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def _ledger(db: psycopg.Connection, name: str) -> list[tuple]:
    return db.execute("SELECT finished_at IS NOT NULL, rolled_back_at IS NOT NULL FROM _prisma_migrations "
                      "WHERE migration_name = %s ORDER BY started_at", (name,)).fetchall()


def _cli_env(tmp_path: Path, db_url: str, migrations: Path, policy: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "AUTO_RECOVER": policy,
            "ALERTS_DIR": str(tmp_path / "alerts"), "LOG_DIR": str(tmp_path / "logs"),
            "BACKUP_DIR": str(tmp_path / "backups"), "STATE_DIR": str(tmp_path / "state")}


@pytest.mark.prisma
def test_a_prisma_deploy_that_failed_on_its_first_statement_is_marked_rolled_back(
        prisma_cli: Path, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    from tests.helpers import run_cli, run_cli_process

    migrations = make_prisma_project(tmp_path, {INIT: WITH_DUPLICATES, BROKEN: FAILS_FIRST})
    assert _prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy").returncode != 0
    assert _ledger(db, BROKEN) == [(False, False)]

    off = run_cli(["healthcheck", "--json"], _cli_env(tmp_path / "off", db_url, migrations, "off"))
    assert _ledger(db, BROKEN) == [(False, False)]
    off_report = json.loads(off.stdout)
    assert off.exit_code == 2 and off_report["auto_recover"] == {"policy": "off", "actions": []}
    [alert] = [a for a in off_report["alerts"]["firing"] if a["check"] == "migrations"]
    assert any(s.startswith("migration-guard recover") for s in alert["suggestions"])

    safe = run_cli_process(["healthcheck"], {**_cli_env(tmp_path, db_url, migrations, "safe"), "COLUMNS": "400"})
    after = run_cli(["healthcheck", "--json"], _cli_env(tmp_path, db_url, migrations, "safe"))

    assert _ledger(db, BROKEN) == [(False, True)]  # rolled_back_at set, as prisma migrate resolve --rolled-back
    assert safe.exit_code == 0, safe.output
    assert "auto_recover" in safe.output and f"done: mark the failed migration {BROKEN} rolled back" in safe.output
    logged = [json.loads(line) for line in (tmp_path / "logs" / "healthcheck.log").read_text().splitlines()]
    [row] = [r for r in logged if r["check"] == "auto_recover"]
    assert row["status"] == "OK" and row["summary"].startswith(f"done: mark the failed migration {BROKEN} rolled back "
                                                               "(nothing of it ran: ")
    assert row["summary"].endswith(f"{BROKEN} marked rolled back (1 failed row(s); prisma migrate resolve "
                                   "--rolled-back); verified")
    report = json.loads(after.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["migrations"]["status"] == "OK" and report["auto_recover"] == {"policy": "safe", "actions": []}
    status = _prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    assert "have failed" not in status.stdout + status.stderr and BROKEN in status.stdout, status.stdout
    settings = _settings(tmp_path, db_url, "safe", migrations=migrations)
    [done] = [a for a in _alerts(settings, resolved=True) if a.check.startswith("auto_recover/")]
    assert done.status.value == "resolved" and done.title.startswith(f"Auto-recovery on {row['database']}: done: mark")
    assert done.suggestions == ("migration-guard recover --mode rollback --yes", f"prisma migrate resolve --rolled-back {BROKEN}")
    assert not [a for a in _alerts(settings) if a.check == "migrations"]


@pytest.mark.prisma
def test_a_failed_concurrent_build_of_a_prisma_migration_is_dropped_and_rolled_back(
        prisma_cli: Path, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {
        INIT: "CREATE TABLE users (id int, email text);\nINSERT INTO users VALUES (1, 'a@x'), (2, 'a@x');\n",
        EMAIL_INDEX: CIC})
    assert _prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy").returncode != 0
    assert _index_state(db, "users_email_key") == "invalid" and _ledger(db, EMAIL_INDEX) == [(False, False)]

    report = run_healthcheck(_settings(tmp_path, db_url, "safe", migrations=migrations))

    assert _index_state(db, "users_email_key") == "absent" and _ledger(db, EMAIL_INDEX) == [(False, True)]
    [action] = report.auto_recover.actions  # the index is the failed migration's: recover's rollback drops it
    assert action.kind == "mark_rolled_back" and action.state == "done", action
    assert "dropping the INVALID index users_email_key its failed build left" in action.description
    assert _check(report, "invalid_indexes").status.value == "OK" and _check(report, "migrations").status.value == "OK"


@pytest.mark.prisma
def test_a_split_prisma_deploy_whose_cause_is_gone_recovers_forward(
        prisma_cli: Path, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    # statement 1 commits, the concurrent build of statement 2 fails on the duplicates (INVALID index)
    broken = ("ALTER TABLE t ADD COLUMN w int;\nCREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v);\n"
              "ALTER TABLE t ADD COLUMN z int;\n")
    migrations = make_prisma_project(tmp_path, {INIT: WITH_DUPLICATES, BROKEN: broken})
    assert _prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy", split=True).returncode != 0
    assert _index_state(db, "t_v_key") == "invalid"
    settings = _settings(tmp_path, db_url, "safe", migrations=migrations)

    cause_present = run_healthcheck(settings)

    assert _ledger(db, BROKEN) == [(False, False)] and _index_state(db, "t_v_key") == "absent"
    skipped, dropped = cause_present.auto_recover.actions  # left alone; only its build's debris goes
    assert skipped.kind == "recover_forward" and skipped.state == "skipped"
    assert skipped.detail.startswith("not a safe class: auto goes forward only when the failure's cause is gone"), skipped
    assert dropped.kind == "drop_index" and dropped.state == "done" and dropped.commands == (
        "DROP INDEX CONCURRENTLY public.t_v_key;",)
    assert dropped.description == (f"drop the INVALID index public.t_v_key on t concurrently (left by the failed "
                                   f"migration {BROKEN}, which is not applied)")
    assert _check(cause_present, "migrations").problem.severity == "HIGH"
    assert _check(cause_present, "invalid_indexes").status.value == "OK"

    db.execute("DELETE FROM t WHERE id = 2")  # the duplicate is gone
    remembered = run_healthcheck(settings)  # the same failed attempt: not diagnosed again within the hour
    report = run_healthcheck(settings.model_copy(update={"auto_recover_recheck": 0}))

    [again] = remembered.auto_recover.actions
    assert again.state == "skipped" and again.detail.startswith(skipped.detail + " (diagnosed ")
    assert "again after AUTO_RECOVER_RECHECK=3600s, or at once when its file or ledger row changes" in again.detail
    [action] = report.auto_recover.actions
    assert action.state == "done", action
    assert action.detail.startswith(f"2 step(s) run; {BROKEN} marked applied (prisma migrate resolve --applied); "
                                    "verified (backup "), action.detail
    assert _ledger(db, BROKEN)[-1] == (True, False) and _index_state(db, "t_v_key") == "valid"
    assert db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 't' "
                      "AND column_name IN ('w', 'z')").fetchone()[0] == 2
    status = _prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    assert status.returncode == 0 and "Database schema is up to date" in status.stdout, status.stdout
