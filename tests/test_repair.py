"""Repair planning and recovery without Prisma: SQL-folder projects, failure debris (INVALID index,
NOT VALID constraint, busy migration lock), plan rules (never guess, irreversible means restore)."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.diagnose import diagnose_migration, load_catalog
from migration_guard.tasks.project import Project
from migration_guard.tasks.recover import choose_plan, classify_failure, rollback_plan
from migration_guard.tasks.diagnose.cause import sqlstate_from_logs
from migration_guard.tasks.sql.statements import split_statements
from tests.helpers import make_sql_project, run_cli

BASE = "CREATE TABLE items (id int PRIMARY KEY, sku text, qty int);\n"
FAILING = """\
ALTER TABLE items ADD COLUMN price numeric(10,2);
CREATE INDEX items_price_idx ON items (price);
CREATE UNIQUE INDEX items_sku_key ON items (sku);
ALTER TABLE items ADD COLUMN note text;
"""


def _sql_project(tmp_path: Path, db_url: str, failing: str = FAILING, applied_statements: int = 2,
                 logs: str = "statement 3 (line 3) failed: could not create unique index (SQLSTATE 23505)") -> Project:
    directory = make_sql_project(tmp_path, {"0001_base": BASE, "0002_prices": failing})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory,
                                                  backup_dir=tmp_path / "backups", alerts_dir=tmp_path / "alerts"))
    base, change = project.ledger.read_migrations()
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        conn.execute(base.sql)
        project.ledger.record_finished(conn, project.ledger.record_started(conn, base))
        conn.execute("INSERT INTO items VALUES (1, 'a', 1), (2, 'a', 2), (3, 'b', 3)")
        entry = project.ledger.record_started(conn, change)
        for statement in split_statements(change.sql)[:applied_statements]:
            conn.execute(statement.text)
        project.ledger.record_failed(conn, entry, logs)
    return project


def _env(project: Project, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": project.dsn, "MIGRATIONS_DIR": str(project.migrations_dir),
            "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts")}


def test_sql_folder_project_is_recovered_forward_after_the_duplicates_are_fixed(tmp_path: Path, db_url: str) -> None:
    project = _sql_project(tmp_path, db_url)
    env = _env(project, tmp_path)

    blocked = run_cli(["recover", "--yes"], env)
    assert blocked.exit_code == 1
    assert "SQLSTATE 23505" in blocked.output and "2 offending row(s)" in blocked.output
    assert list((tmp_path / "alerts").glob("*.json"))  # not recovered: an alert is raised

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE items SET sku = 'c' WHERE id = 2")
    done = run_cli(["recover", "--yes", "--json"], env)

    assert done.exit_code == 0, done.output
    assert '"outcome": "recovered"' in done.stdout
    assert run_cli(["status"], env).exit_code == 0


def test_unknown_statement_is_never_guessed(tmp_path: Path, db_url: str) -> None:
    failing = ("ALTER TABLE items ADD COLUMN price numeric;\nUPDATE items SET price = qty * 2;\n"
               "ALTER TABLE items ADD COLUMN note text;\n")
    project = _sql_project(tmp_path, db_url, failing, applied_statements=1, logs="connection reset")

    result = run_cli(["recover", "--yes", "--no-backup"], _env(project, tmp_path))

    assert result.exit_code == 1
    assert "never guesses" in result.output and "statement(s) 2 (line 2)" in result.output


def test_rollback_of_an_irreversible_step_means_restore_the_backup(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int, legacy text, keep text)")
    sql = "ALTER TABLE t DROP COLUMN legacy;\nALTER TABLE t ADD COLUMN fresh int;\nALTER TABLE t ADD CONSTRAINT t_x CHECK (id > 999);\n"
    db.execute("ALTER TABLE t DROP COLUMN legacy; ALTER TABLE t ADD COLUMN fresh int")

    diagnosis = diagnose_migration(sql, "m", load_catalog(db, ["public"]))
    plan = rollback_plan(diagnosis, backup_path="/backups/x.dump")

    assert not plan.runnable
    assert any("DropColumn legacy" in item for item in plan.irreversible)
    assert "restore" in plan.next_step and "/backups/x.dump" in plan.next_step


def test_forward_mode_refuses_while_the_cause_is_present(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int, v text); INSERT INTO t VALUES (1, NULL)")
    sql = "ALTER TABLE t ALTER COLUMN v SET NOT NULL;\n"
    catalog = load_catalog(db, ["public"])
    diagnosis = diagnose_migration(sql, "m", catalog)
    cause = classify_failure(db, diagnosis, catalog, "ERROR: column contains null values (SQLSTATE 23502)")

    plan = choose_plan(diagnosis, cause, "forward")

    assert cause.kind == "nulls" and cause.present and cause.offending_rows == 1
    assert not plan.runnable and "would happen again" in plan.blocked_reason


@pytest.mark.parametrize(("logs", "sqlstate"), [
    ("Database error code: 23505\n\nDatabase error:\nERROR: duplicate key", "23505"),
    ("statement 2 (line 4) failed: canceling statement (SQLSTATE 55P03)", "55P03"),
    ("external connector error\nForeign key constraint failed: x", None),
    (None, None),
])
def test_sqlstate_from_logs(logs, sqlstate) -> None:
    assert sqlstate_from_logs(logs) == sqlstate


def test_invalid_index_debris_without_a_failed_migration_is_rebuilt(tmp_path: Path, db_url: str) -> None:
    project = _sql_project(tmp_path, db_url, applied_statements=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {project.ledger.display_table} WHERE migration_name = '0002_prices'")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY items_sku_key ON items (sku)")
        conn.execute("UPDATE items SET sku = 'z' WHERE id = 2")
    env = _env(project, tmp_path)

    result = run_cli(["recover", "--yes", "--no-drift"], env)

    assert result.exit_code == 0, result.output
    assert "INVALID index public.items_sku_key" in result.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_sku_key'::regclass").fetchone() == (True,)
    assert "nothing to recover" in run_cli(["recover", "--yes"], env).output


def test_not_valid_constraint_a_migration_meant_to_validate_is_validated(tmp_path: Path, db_url: str) -> None:
    meant = "ALTER TABLE items ADD CONSTRAINT items_qty_check CHECK (qty > 0) NOT VALID;\n" \
            "ALTER TABLE items VALIDATE CONSTRAINT items_qty_check;\n"
    project = _sql_project(tmp_path, db_url, meant, applied_statements=1, logs="")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {project.ledger.display_table} SET finished_at = now() WHERE migration_name = '0002_prices'")

    result = run_cli(["recover", "--yes"], _env(project, tmp_path))

    assert result.exit_code == 0, result.output
    assert "NOT VALID constraint items_qty_check" in result.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'items_qty_check'").fetchone() == (True,)


def test_a_running_migration_holding_the_lock_is_left_alone(tmp_path: Path, db_url: str) -> None:
    project = _sql_project(tmp_path, db_url)
    busy = psycopg.connect(db_url, autocommit=True)
    busy.execute("SELECT pg_advisory_lock(%s)", (project.ledger.lock_key,))
    sleeper = threading.Thread(target=lambda: busy.execute("SELECT pg_sleep(3)"))
    sleeper.start()
    try:
        result = run_cli(["recover", "--yes", "--stale-lock-seconds", "0"], _env(project, tmp_path))
        assert result.exit_code == 1
        assert "a migration is running now" in result.output
    finally:
        sleeper.join()
        busy.close()


def test_bad_mode_is_a_usage_error(tmp_path: Path, db_url: str) -> None:
    project = _sql_project(tmp_path, db_url)

    result = run_cli(["recover", "--mode", "sideways"], _env(project, tmp_path))

    assert result.exit_code == 2
    assert "--mode must be one of auto, forward, rollback" in result.output


def test_rollback_that_needs_a_restore_names_the_backup_taken_before_the_failure(tmp_path: Path, db_url: str) -> None:
    from migration_guard.tasks.backup import create_backup

    before = create_backup(db_url, tmp_path / "backups", reason="pre-migrate")
    failing = "ALTER TABLE items DROP COLUMN qty;\nCREATE UNIQUE INDEX items_sku_key ON items (sku);\n"
    project = _sql_project(tmp_path, db_url, failing, applied_statements=1,
                           logs="statement 2 (line 2) failed: duplicate (SQLSTATE 23505)")

    result = run_cli(["recover", "--mode", "rollback", "--yes"], _env(project, tmp_path))

    assert result.exit_code == 1
    assert "DropColumn qty" in result.output
    assert str(before.path) in result.output
    assert len(list((tmp_path / "backups").glob("*.json"))) == 1  # a blocked run takes no backup


def test_a_statement_that_does_not_parse_is_a_syntax_failure_that_blocks(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int)")
    sql = "ALTER TABLE t ADD COLUMN a int;\nALTER TABLE t ADD COLUMN b int,, ;\n"
    db.execute("ALTER TABLE t ADD COLUMN a int")
    catalog = load_catalog(db, ["public"])
    diagnosis = diagnose_migration(sql, "m", catalog)

    cause = classify_failure(db, diagnosis, catalog, None)

    assert cause.kind == "syntax" and cause.present
    assert not choose_plan(diagnosis, cause, "auto").runnable


@pytest.mark.parametrize(("answer", "exit_code", "outcome"), [("n\n", 1, "declined"), ("y\n", 0, "recovered")])
def test_the_cli_asks_before_changing_anything(tmp_path: Path, db_url: str, answer: str, exit_code: int,
                                               outcome: str) -> None:
    from typer.testing import CliRunner

    from migration_guard.cli import app
    from tests.helpers import CONFIG_VARIABLES

    project = _sql_project(tmp_path, db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE items SET sku = 'c' WHERE id = 2")
    env = {name: None for name in CONFIG_VARIABLES} | _env(project, tmp_path)

    result = CliRunner().invoke(app, ["recover", "--no-drift"], env=env, input=answer)

    assert result.exit_code == exit_code, result.output
    assert "Apply this plan?" in result.output and outcome in result.output
    with psycopg.connect(db_url) as conn:
        built = conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'items_sku_key'").fetchone()[0]
    assert built == (1 if outcome == "recovered" else 0)


def test_orphans_are_counted_against_the_parents_primary_key_when_no_columns_are_named(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, pid int);"
               "INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1), (2, 2), (3, NULL), (4, 5)")
    sql = "ALTER TABLE c ADD CONSTRAINT c_pid_fkey FOREIGN KEY (pid) REFERENCES p;\n"
    catalog = load_catalog(db, ["public"])

    cause = classify_failure(db, diagnose_migration(sql, "m", catalog), catalog, "Database error code: 23503")

    assert (cause.kind, cause.present, cause.offending_rows) == ("orphans", True, 2)
    assert len(db.execute(cause.listing_query).fetchall()) == 2


def test_values_longer_than_a_shrunk_varchar_are_counted(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (code varchar(10)); INSERT INTO t VALUES ('abc'), ('abcdef'), (NULL)")
    sql = "ALTER TABLE t ALTER COLUMN code TYPE varchar(3);\n"
    catalog = load_catalog(db, ["public"])

    cause = classify_failure(db, diagnose_migration(sql, "m", catalog), catalog, None)

    assert (cause.kind, cause.present, cause.offending_rows) == ("uncastable", True, 1)


@pytest.mark.parametrize(("logs", "kind"), [
    ("external connector error\nError querying the database: FATAL: terminating connection due to "
     "administrator command", "connection_lost"),
    ("ERROR: canceling statement due to lock timeout", "lock_timeout"),
    (None, "connection_lost"),  # the process died before it could write its error
])
def test_causes_no_recheck_can_see_come_from_the_logs(db: psycopg.Connection, logs, kind) -> None:
    db.execute("CREATE TABLE t (id int)")
    sql = "ALTER TABLE t ADD COLUMN a int;\nCREATE INDEX t_a_idx ON t (a);\n"
    db.execute("ALTER TABLE t ADD COLUMN a int")
    catalog = load_catalog(db, ["public"])

    cause = classify_failure(db, diagnose_migration(sql, "m", catalog), catalog, logs)

    assert (cause.kind, cause.present) == (kind, False)


def test_rollback_restores_types_defaults_indexes_and_constraints_from_the_earlier_schema(
    tmp_path: Path, db_url: str
) -> None:
    base = ("CREATE TABLE items (id int PRIMARY KEY, sku text DEFAULT 'new', qty int CHECK (qty >= 0));\n"
            "CREATE INDEX items_qty_idx ON items (qty);\n")
    failing = ("ALTER TABLE items ALTER COLUMN qty TYPE bigint;\n"
               "ALTER TABLE items ALTER COLUMN sku SET DEFAULT 'none';\n"
               "DROP INDEX items_qty_idx;\n"
               "ALTER TABLE items DROP CONSTRAINT items_qty_check;\n"
               "CREATE UNIQUE INDEX items_sku_key ON items (sku);\n")
    directory = make_sql_project(tmp_path, {"0001_base": base, "0002_changes": failing})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory))
    first, second = project.ledger.read_migrations()
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        for statement in split_statements(first.sql):
            conn.execute(statement.text)
        project.ledger.record_finished(conn, project.ledger.record_started(conn, first))
        conn.execute("INSERT INTO items VALUES (1, 'a', 1), (2, 'a', 2)")
        entry = project.ledger.record_started(conn, second)
        for statement in split_statements(second.sql)[:4]:
            conn.execute(statement.text)
        project.ledger.record_failed(conn, entry, "statement 5 (line 5) failed (SQLSTATE 23505)")

    result = run_cli(["recover", "--mode", "rollback", "--yes"], _env(project, tmp_path))

    assert result.exit_code == 0, result.output
    assert "TYPE integer USING" in result.output and "SET DEFAULT 'new'::text" in result.output
    assert "drift none" in result.output  # the live schema is exactly what 0001_base produces


def test_recover_without_an_answer_says_how_to_apply_without_asking(tmp_path: Path, db_url: str) -> None:
    """cron / CI / nohup: stdin gives no answer; not click's bare 'Aborted!' but what to run."""
    from typer.testing import CliRunner

    from migration_guard.cli import app
    from tests.helpers import CONFIG_VARIABLES

    project = _sql_project(tmp_path, db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE items SET sku = 'c' WHERE id = 2")
    env = {name: None for name in CONFIG_VARIABLES} | _env(project, tmp_path)

    result = CliRunner().invoke(app, ["recover", "--no-drift"], env=env, input="")

    assert result.exit_code == 1, result.output
    assert "Aborted!" not in result.output
    assert result.output.rstrip().endswith("nothing was changed; to apply the plan without asking: "
                                           "migration-guard recover --yes"), result.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'items_sku_key'").fetchone()[0] == 0
