"""Issue 13, item 5: safe-migrate's failure report (text, JSON, alert, the artifact's markdown)
runs the same cause analysis as recover and names the rows of a failure on data — a FOREIGN KEY
over orphan rows, a UNIQUE index over duplicates, ADD COLUMN NOT NULL without a default on a table
with rows, and a step-by-step migration stopped by duplicates. The listing query is run exactly as
printed (psql) and lists exactly the blocking rows; following the advice makes the next
`migration-guard migrate` apply; "fix migration.sql" is never the advice for data."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import psycopg

from migration_guard.tasks.migrate.report import report_markdown
from tests.helpers import add_prisma_migration, make_prisma_project, run_cli

INIT = "20240101000000_init"
INIT_SQL = """\
CREATE TABLE "Customer" ("id" INTEGER PRIMARY KEY, "email" TEXT);
CREATE TABLE "Payment" ("id" INTEGER PRIMARY KEY, "customerId" INTEGER, "amount" INTEGER);
"""
ROWS = """\
INSERT INTO "Customer" VALUES (1, 'ann@x.io'), (2, 'bob@x.io'), (3, 'ann@x.io'), (4, 'cy@x.io'), (5, 'bob@x.io');
INSERT INTO "Payment" VALUES (10, 1, 5), (11, 7, 5), (12, 2, 5), (13, 9, 5), (14, NULL, 5);
"""


def _project(tmp_path: Path, db: psycopg.Connection, db_url: str) -> tuple[Path, dict[str, str]]:
    migrations = make_prisma_project(tmp_path, {INIT: INIT_SQL})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "BACKUP_DIR": str(tmp_path / "backups"),
           "ALERTS_DIR": str(tmp_path / "alerts")}
    assert run_cli(["migrate", "--skip-backup"], env=env).exit_code == 0
    db.execute(ROWS)
    return migrations, env


def _failed(env: dict[str, str], *args: str) -> tuple[str, dict]:
    text = run_cli(["migrate", "--skip-backup", *args], env=env)
    assert text.exit_code == 1, text.output
    as_json = run_cli(["migrate", "--skip-backup", "--json", *args], env=env)
    assert as_json.exit_code == 1
    return text.stdout, json.loads(as_json.stdout)


def _pasted(db_url: str, query: str) -> list[str]:
    """The rows of ``query`` run with psql exactly as printed (one line per row, fields joined by |)."""
    done = subprocess.run(["psql", db_url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def _printed_query(text: str) -> str:
    """The listing query as the text report prints it (the ```sql block)."""
    match = re.search(r"```sql\n(.*?)\n```", text, re.DOTALL)
    assert match, text
    return match.group(1)


def _assert_names_the_rows(text: str, report: dict, tmp_path: Path, count: int) -> dict:
    cause = report["cause"]
    assert cause is not None, report["recovery"]
    assert cause["offending_rows"] == count and cause["present"] is True
    assert f"{count} row(s); list them with:" in text
    assert _printed_query(text) == cause["listing_query"]
    assert f"{count} row(s) block it" in report["recovery"][0]
    assert report["recovery"][1].endswith(f"list them with: {cause['listing_query']}")
    assert f"list them with: `{cause['listing_query']}`" in text  # copies cleanly from the text report
    assert "fix the statement" not in report["suggestion"]
    assert "Cause: the data, not the migration's SQL" in report_markdown(report)  # the Prefect artifact
    alerts = [json.loads(p.read_text()) for p in sorted((tmp_path / "alerts").rglob("*.json"))]
    assert alerts and any(cause["listing_query"] in s for s in alerts[-1]["suggestions"]), alerts[-1]["suggestions"]
    return cause


def test_foreign_key_over_orphans_names_the_orphan_rows(tmp_path: Path, db: psycopg.Connection, db_url: str) -> None:
    migrations, env = _project(tmp_path, db, db_url)
    path = add_prisma_migration(migrations, "20240102000000_fk", 'ALTER TABLE "Payment" ADD COLUMN "note" TEXT;\n'
                         'ALTER TABLE "Payment" ADD CONSTRAINT "Payment_customerId_fkey" FOREIGN KEY ("customerId") '
                         'REFERENCES "Customer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;\n')

    text, report = _failed(env)

    cause = _assert_names_the_rows(text, report, tmp_path, 2)
    assert cause["kind"] == "orphans" and cause["statement"] == 2 and cause["rolled_back"] is True
    assert sorted(_pasted(db_url, _printed_query(text))) == ["11|7|5", "13|9|5"]
    advice = report["recovery"][0]
    assert "rolled back completely" in advice and f"The cause is the data, not {path}: fix the 2 row(s) listed below" in advice
    assert f"fix {path}" not in advice and advice.endswith("then re-run: migration-guard migrate")
    db.execute('DELETE FROM "Payment" WHERE "id" IN (11, 13)')  # what the advice says: fix the rows, re-run
    assert run_cli(["migrate", "--skip-backup"], env=env).exit_code == 0


def test_unique_index_over_duplicates_names_the_duplicate_values(tmp_path: Path, db: psycopg.Connection,
                                                                  db_url: str) -> None:
    migrations, env = _project(tmp_path, db, db_url)
    add_prisma_migration(migrations, "20240102000000_unique",
                         'CREATE UNIQUE INDEX "Customer_email_key" ON "Customer"("email");\n')

    text, report = _failed(env)

    cause = _assert_names_the_rows(text, report, tmp_path, 4)
    assert cause["kind"] == "duplicates" and cause["statement"] == 1
    assert sorted(_pasted(db_url, _printed_query(text))) == ["ann@x.io|2", "bob@x.io|2"]
    db.execute("""UPDATE "Customer" SET "email" = 'ann2@x.io' WHERE "id" = 3""")
    db.execute("""UPDATE "Customer" SET "email" = 'bob2@x.io' WHERE "id" = 5""")
    assert run_cli(["migrate", "--skip-backup"], env=env).exit_code == 0


def test_required_column_without_default_on_rows_advises_a_default_not_the_sql(
        tmp_path: Path, db: psycopg.Connection, db_url: str) -> None:
    migrations, env = _project(tmp_path, db, db_url)
    path = add_prisma_migration(migrations, "20240102000000_required",
                                'ALTER TABLE "Payment" ADD COLUMN "currency" TEXT NOT NULL;\n')

    # lint stops it before it runs; acknowledged for this run, it fails on the rows
    text, report = _failed(env, "--allow", "adding-not-nullable-column")

    cause = _assert_names_the_rows(text, report, tmp_path, 5)
    assert cause["kind"] == "nulls" and cause["new_columns"] == ["currency"] and cause["table"] == "Payment"
    assert len(_pasted(db_url, _printed_query(text))) == 5
    advice = report["recovery"][0]
    assert "Give currency a DEFAULT in" in advice and advice.endswith("then re-run: migration-guard migrate")
    assert report["recovery"][1].startswith("or, if the 5 row(s) of Payment are disposable, delete them")
    path.write_text("""ALTER TABLE "Payment" ADD COLUMN "currency" TEXT NOT NULL DEFAULT 'EUR';\n""")
    assert run_cli(["migrate", "--skip-backup"], env=env).exit_code == 0
    assert db.execute("""SELECT count(*) FROM "Payment" WHERE "currency" = 'EUR'""").fetchone()[0] == 5


def test_step_by_step_migration_stopped_by_duplicates_resumes_after_the_fix(
        tmp_path: Path, db: psycopg.Connection, db_url: str) -> None:
    migrations, env = _project(tmp_path, db, db_url)
    add_prisma_migration(migrations, "20240102000000_concurrently",
                         'ALTER TABLE "Customer" ADD COLUMN "name" TEXT;\n'
                         'CREATE UNIQUE INDEX CONCURRENTLY "Customer_email_key" ON "Customer"("email");\n')

    text, report = _failed(env)

    cause = _assert_names_the_rows(text, report, tmp_path, 4)
    assert cause["rolled_back"] is False and cause["steps_done"] == 1 and cause["statement"] == 2
    assert sorted(_pasted(db_url, _printed_query(text))) == ["ann@x.io|2", "bob@x.io|2"]
    advice = report["recovery"][0]
    assert "stopped after 1 statement(s), which are committed and stay" in advice
    assert advice.endswith("then re-run: migration-guard migrate   # it resumes at statement 2")
    db.execute("""DELETE FROM "Customer" WHERE "id" IN (3, 5)""")
    assert run_cli(["migrate", "--skip-backup"], env=env).exit_code == 0
    assert db.execute("""SELECT indisvalid FROM pg_index WHERE indexrelid = '"Customer_email_key"'::regclass"""
                      ).fetchone()[0] is True


def test_rows_made_by_the_migration_itself_are_not_blamed_on_the_file_or_named_wrongly(
        tmp_path: Path, db: psycopg.Connection, db_url: str) -> None:
    """Duplicates the migration's own INSERT makes are gone after the rollback: no rows are named
    (none are there to list), and the advice says the failure is on data, not "fix the statement"."""
    migrations, env = _project(tmp_path, db, db_url)
    add_prisma_migration(migrations, "20240102000000_copy", 'CREATE TABLE "Email" ("address" TEXT);\n'
                         'INSERT INTO "Email" SELECT "email" FROM "Customer";\n'
                         'CREATE UNIQUE INDEX "Email_address_key" ON "Email"("address");\n')

    _text, report = _failed(env)

    assert report["cause"] is None
    advice = report["recovery"][0]
    assert report["suggestion"] == advice and "fix the statement" not in advice
    assert "failed on data (SQLSTATE 23505)" in advice and "statement 3 (line 3)" in advice
    assert advice.endswith("then re-run: migration-guard migrate")
