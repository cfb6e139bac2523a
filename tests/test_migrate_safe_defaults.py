"""Issue 19, items 1-3 and 7 (migrate side), on real PostgreSQL:

- with the defaults, a real idle-in-transaction blocker on the table is a validation WARN naming it
  ("apply will wait up to N s for pid P (...)"), migrate waits it out and completes, and a client on
  the table never waits longer than lock_timeout + 0.1 s;
- LOCK_TIMEOUT=0 (apply could not bound its wait) is the only blocker that FAILs validation;
- a pending DROP COLUMN blocks until acknowledged; the report prints the exact comment, where to put
  it and the command to re-run; pasted as printed (or ``--allow``), it applies and the report and
  JSON list the acknowledged change;
- the validation table's backup row agrees with the backup migrate took.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.durations import postgres_duration_seconds
from migration_guard.tasks.migrate.options import options_from_settings
from migration_guard.tasks.migrate.pipeline import run_safe_migrate
from migration_guard.tasks.migrate.report import report_markdown
from migration_guard.tasks.project import Project
from migration_guard.tasks.settings import Settings, load_settings
from migration_guard.tasks.validate import CheckStatus, ValidationContext, ValidationOptions, run_validation
from tests.helpers import make_sql_project, run_cli

ADD_NOTE = {"001_add_note": "ALTER TABLE items ADD COLUMN note text;\n"}
DROP = 'SELECT 1;\nALTER TABLE items DROP COLUMN "legacy";\n'


@pytest.fixture
def items(db: psycopg.Connection, db_url: str) -> str:
    db.execute("CREATE TABLE items (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0, legacy text);"
               "INSERT INTO items (id) SELECT g FROM generate_series(1, 200) g")
    return db_url


def env_for(db_url: str, tmp_path: Path, folder: Path) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(folder), "BACKUP_DIR": str(tmp_path / "backups"),
            "ALERTS_DIR": str(tmp_path / "alerts"), "LOG_DIR": str(tmp_path / "logs")}


def columns(db: psycopg.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'items'")}


def test_the_default_lock_timeout_is_at_most_one_second() -> None:
    assert postgres_duration_seconds(Settings.model_fields["lock_timeout"].default) <= 1.0


def _client(url: str, stop: threading.Event, waits: list[float]) -> None:
    with psycopg.connect(url, autocommit=True, application_name="app-client") as conn:
        key = 0
        while not stop.is_set():
            key = key % 200 + 1
            started = time.perf_counter()
            conn.execute("UPDATE items SET n = n + 1 WHERE id = %s", (key,))
            waits.append(time.perf_counter() - started)
            time.sleep(0.005)


def _ddl_waiting(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True) as watch:
        while time.monotonic() < deadline:
            if watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                             "wait_event_type = 'Lock' AND query ILIKE 'ALTER TABLE items%'").fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def test_migrate_with_the_defaults_waits_out_a_real_blocker_without_stalling_clients(items: str, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, ADD_NOTE)
    settings = load_settings(database_url=items, migrations_dir=folder, backup_dir=tmp_path / "backups",
                             alerts_dir=tmp_path / "alerts", log_dir=tmp_path / "logs")
    lock_timeout = postgres_duration_seconds(settings.lock_timeout)
    stop, waits = threading.Event(), []
    clients = [threading.Thread(target=_client, args=(items, stop, waits)) for _ in range(2)]
    for client in clients:
        client.start()
    blocker = psycopg.connect(items, application_name="long-report")
    try:
        blocker.execute("SELECT count(*) FROM items")  # ACCESS SHARE, then idle in transaction
        pid = blocker.info.backend_pid
        time.sleep(1.1)  # older than the table-locks check's minimum age
        outcome: dict[str, object] = {}
        migrating = threading.Thread(target=lambda: outcome.setdefault(
            "report", run_safe_migrate(Project.from_settings(settings), options_from_settings(settings))))
        migrating.start()
        assert _ddl_waiting(items, 60), "the ALTER never waited for its lock"
        time.sleep(2.0)  # the blocker stays 2 s after the ALTER starts waiting: at least two attempts
        blocker.commit()
        migrating.join(60)
    finally:
        blocker.close()
        stop.set()
        for client in clients:
            client.join()
    report = outcome["report"]
    assert report.ok, report.to_dict()
    checks = {c["name"]: c for c in report.validation["checks"]}
    pid_line = f"apply will wait up to {settings.migrate_retry_budget:g} s for pid {pid} (application 'long-report'"
    assert checks["table-locks"]["status"] == "WARN" and pid_line in checks["table-locks"]["reason"]
    assert "idle in transaction" in checks["table-locks"]["reason"] and "SELECT count(*) FROM items" in checks["table-locks"]["reason"]
    assert f"pg_terminate_backend({pid})" in checks["table-locks"]["fix"]
    [migration] = report.apply["migrations"]
    assert len(migration["lock_waits"]) >= 1  # it really hit lock_timeout and retried
    assert waits and max(waits) <= lock_timeout + 0.1, f"a client waited {max(waits):.3f}s"
    with psycopg.connect(items) as check:
        assert "note" in {r[0] for r in check.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'items'")}


def test_only_a_lock_timeout_of_zero_makes_a_blocker_fail(items: str, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, ADD_NOTE)
    settings = load_settings(database_url=items, migrations_dir=folder, backup_dir=tmp_path / "backups")
    with psycopg.connect(items, application_name="long-report") as blocker:
        blocker.execute("SELECT count(*) FROM items")
        context = ValidationContext(Project.from_settings(settings), ValidationOptions(
            backup=False, lock_min_age_seconds=0, idle_in_transaction_seconds=0, lock_timeout="0"))
        unbounded = run_validation(context)
        bounded = run_validation(ValidationContext(Project.from_settings(settings), ValidationOptions(
            backup=False, lock_min_age_seconds=0, idle_in_transaction_seconds=0)))
        pid = blocker.info.backend_pid
    assert unbounded.get("table-locks").status is CheckStatus.FAIL
    assert "LOCK_TIMEOUT is 0" in unbounded.get("table-locks").reason
    assert unbounded.get("transactions").status is CheckStatus.FAIL
    assert bounded.get("table-locks").status is CheckStatus.WARN and bounded.get("transactions").status is CheckStatus.WARN
    assert f"for pid {pid} (application 'long-report', idle in transaction" in bounded.get("transactions").reason
    assert bounded.ok


def test_a_pending_drop_column_blocks_until_acknowledged_as_printed(items: str, db: psycopg.Connection, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, {"001_drop_legacy": DROP})
    env = env_for(items, tmp_path, folder)

    blocked = run_cli(["migrate"], env=env)
    as_json = json.loads(run_cli(["migrate", "--json"], env=env).stdout)

    assert blocked.exit_code == 1, blocked.output
    comment = "-- migration-guard:ignore ban-drop-column intended: reviewed destructive change"
    assert "## Acknowledge the destructive changes" in blocked.stdout
    assert f"\n      {comment}\n" in blocked.stdout  # bare, so it pastes as is
    assert f"{folder / '001_drop_legacy.sql'}:2:1 ban-drop-column" in blocked.stdout
    assert "then re-run: `migration-guard migrate`" in blocked.stdout
    assert "migration-guard migrate --allow ban-drop-column" in blocked.stdout
    assert """migration-guard trigger safe-migrate --param 'allow=["ban-drop-column"]'""" in blocked.stdout
    assert "legacy" in columns(db)
    [backup_row] = [c for c in as_json["validation"]["checks"] if c["name"] == "backup"]
    assert backup_row["reason"] == "not taken: migrate stopped at validation"
    assert "--allow ban-drop-column)" not in blocked.stdout  # the printed command pastes as is
    [needed] = as_json["acknowledgements"]
    assert needed["rule"] == "ban-drop-column" and needed["line"] == 2 and needed["acknowledgement"] == comment

    path = folder / "001_drop_legacy.sql"
    lines = path.read_text().split("\n")
    lines.insert(needed["line"] - 1, needed["acknowledgement"])  # "directly above the statement"
    path.write_text("\n".join(lines))
    applied = run_cli(["migrate", "--json"], env=env)

    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    assert "legacy" not in columns(db)
    [acknowledged] = report["acknowledged"]
    assert acknowledged["rule"] == "ban-drop-column" and acknowledged["location"].endswith("001_drop_legacy.sql:3:1")
    assert acknowledged["by"] == comment
    text = report_markdown(report)
    assert "## Acknowledged destructive changes" in text and f"acknowledged by {comment}" in text


def test_allow_acknowledges_for_one_run_and_the_report_lists_it(items: str, db: psycopg.Connection, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, {"001_drop_legacy": DROP})
    env = env_for(items, tmp_path, folder)

    unknown = run_cli(["migrate", "--allow", "ban-drop-colum"], env=env)
    allowed = run_cli(["migrate", "--allow", "ban-drop-column"], env=env)

    assert unknown.exit_code == 2 and "no lint rule named ban-drop-colum" in unknown.output
    assert "legacy" not in columns(db)
    assert allowed.exit_code == 0, allowed.output
    assert "## Acknowledged destructive changes" in allowed.stdout
    assert "ban-drop-column" in allowed.stdout and "acknowledged by --allow ban-drop-column" in allowed.stdout


def test_the_validation_backup_row_agrees_with_the_backup_migrate_took(items: str, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, ADD_NOTE)
    env = env_for(items, tmp_path, folder)

    report = json.loads(run_cli(["migrate", "--json"], env=env).stdout)

    assert report["ok"], report
    [row] = [c for c in report["validation"]["checks"] if c["name"] == "backup"]
    assert row["status"] == "PASS" and Path(report["backup"]["path"]).name in row["reason"]
    assert "switched off" not in report_markdown(report)
    assert report["validation"]["counts"]["SKIP"] == sum(1 for c in report["validation"]["checks"] if c["status"] == "SKIP")


def test_skip_backup_says_so_in_the_validation_table(items: str, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, ADD_NOTE)

    report = json.loads(run_cli(["migrate", "--json", "--skip-backup"], env=env_for(items, tmp_path, folder)).stdout)

    [row] = [c for c in report["validation"]["checks"] if c["name"] == "backup"]
    assert report["ok"] and report["backup"] is None
    assert row["status"] == "SKIP" and row["reason"] == "not taken (migrate --skip-backup)"


def test_when_the_budget_runs_out_the_report_names_the_blocker_and_the_printed_sql_ends_it(
        items: str, db: psycopg.Connection, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, ADD_NOTE)
    env = env_for(items, tmp_path, folder)
    blocker = psycopg.connect(items, application_name="stuck-report")
    blocker.execute("SELECT count(*) FROM items")
    pid = blocker.info.backend_pid
    failed = run_cli(["migrate", "--retry-budget", "1", "--skip-backup"], env=env)
    report = json.loads(run_cli(["migrate", "--retry-budget", "1", "--skip-backup", "--json"], env=env).stdout)
    assert failed.exit_code == 1 and "note" not in columns(db)
    first = report["recovery"][0]
    assert f"pid {pid}" in first and "stuck-report" in first and "nothing of this migration was applied" in first
    command = first.rsplit(": ", 1)[1]
    assert command == f"SELECT pg_terminate_backend({pid});"
    assert f"`{command}`" in failed.stdout  # copyable in the printed report
    db.execute(command)  # as printed
    blocker.close()
    assert run_cli(["migrate", "--skip-backup"], env=env).exit_code == 0
    assert "note" in columns(db)


def test_one_statement_dropping_two_columns_needs_one_acknowledgement(items: str, db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute("ALTER TABLE items ADD COLUMN old2 text")
    folder = make_sql_project(tmp_path, {"001_drop_two": 'ALTER TABLE items DROP COLUMN "legacy", DROP COLUMN "old2";\n'})
    env = env_for(items, tmp_path, folder)

    report = json.loads(run_cli(["migrate", "--json"], env=env).stdout)

    [needed] = report["acknowledgements"]
    assert "items.legacy" in needed["message"] and "items.old2" in needed["message"]
    path = folder / "001_drop_two.sql"
    path.write_text(needed["acknowledgement"] + "\n" + path.read_text())
    applied = json.loads(run_cli(["migrate", "--json"], env=env).stdout)
    assert applied["ok"] and {"legacy", "old2"}.isdisjoint(columns(db))
    assert len(applied["acknowledged"]) == 2
