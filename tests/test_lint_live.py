"""Live mode: row estimates and sizes from the real database re-level blocking findings."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.lint import LintContext, lint_migrations
from migration_guard.tasks.lint import context as lint_context
from migration_guard.tasks.models import Migration
from migration_guard.tasks.lint import parse_config
from tests.helpers import make_prisma_project, run_cli

#: once-per-file robustness findings (timeouts; prefer-robust-stmts: these files name no runner); not what these tests look at.
QUIET = parse_config("missing-lock-timeout,require-statement-timeout,prefer-robust-stmts")


@pytest.fixture
def sized_tables(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> psycopg.Connection:
    db.execute('CREATE TABLE tiny (id bigint, a int); INSERT INTO tiny SELECT g, g FROM generate_series(1, 10) g')
    db.execute('CREATE TABLE "Big" (id bigint, a int); INSERT INTO "Big" SELECT g, g FROM generate_series(1, 5000) g')
    db.execute('CREATE TABLE empty_t (id bigint)')
    db.execute("ANALYZE tiny; ANALYZE \"Big\"; ANALYZE empty_t")
    monkeypatch.setattr(lint_context, "SMALL_TABLE_ROWS", 100)
    monkeypatch.setattr(lint_context, "LARGE_TABLE_ROWS", 1000)
    return db


def _migration(tmp_path: Path, sql: str) -> Migration:
    return Migration("1_m", tmp_path / "1_m.sql", sql, "")


def test_blocking_statement_is_info_on_a_tiny_table_and_error_on_a_large_one(sized_tables, tmp_path: Path) -> None:
    sql = 'CREATE INDEX i1 ON tiny (a);\nCREATE INDEX i2 ON "Big" (a);\nCREATE INDEX i3 ON missing (a);'
    findings = lint_migrations([_migration(tmp_path, sql)], conn=sized_tables, config=QUIET)
    by_line = {f.line: f for f in findings}
    assert by_line[1].severity == "info" and "~10 rows" in by_line[1].message
    assert by_line[2].severity == "error" and "~5,000 rows" in by_line[2].message and "Big" in by_line[2].message
    assert by_line[3].severity == "error" and "rows" not in by_line[3].message  # not in the database: static


def test_static_mode_keeps_static_severities(tmp_path: Path) -> None:
    [finding] = lint_migrations([_migration(tmp_path, "CREATE INDEX i1 ON tiny (a);")], config=QUIET)
    assert finding.severity == "error" and "rows" not in finding.message


def test_not_null_column_on_an_empty_table_is_info(sized_tables, tmp_path: Path) -> None:
    sql = "ALTER TABLE empty_t ADD COLUMN n int NOT NULL;\nALTER TABLE tiny ADD COLUMN n int NOT NULL;"
    findings = lint_migrations([_migration(tmp_path, sql)], conn=sized_tables, config=QUIET)
    assert [(f.line, f.severity) for f in findings] == [(1, "info"), (2, "error")]
    assert "empty" in findings[0].message


def test_schema_of_the_context_is_used(sized_tables, tmp_path: Path) -> None:
    sized_tables.execute("CREATE SCHEMA app; CREATE TABLE app.tiny (a int); ANALYZE app.tiny")
    findings = lint_migrations([_migration(tmp_path, "CREATE INDEX i ON tiny (a);")], conn=sized_tables,
                               context=LintContext(default_schema="app"), config=QUIET)
    assert findings[0].severity == "info" and "app.tiny" in findings[0].message


def test_cli_pending_migrations_live(sized_tables, db_url: str, tmp_path: Path) -> None:
    migrations_dir = make_prisma_project(tmp_path, {
        "20240101000000_index_big": 'CREATE INDEX "Big_a_idx" ON "Big"("a");\n',
        "20240102000000_new_table": 'CREATE TABLE "Tag" ("id" BIGINT NOT NULL, CONSTRAINT "Tag_pkey" PRIMARY KEY ("id"));\n'
                                    'CREATE INDEX "Tag_id_idx" ON "Tag"("id");\n',
    })
    result = run_cli(["lint", "--json", "--database-url", db_url, "--migrations-dir", str(migrations_dir)])
    assert result.exit_code == 1, result.output
    import json

    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule"], f["severity"]) for f in findings] == [
        ("require-concurrent-index-creation", "error"), ("missing-lock-timeout", "info"), ("require-statement-timeout", "info")]
    assert "~5,000 rows" in findings[0]["message"]


def test_cli_paths_with_database_url_are_live(sized_tables, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "m.sql"
    path.write_text("CREATE INDEX i1 ON tiny (a);\n")
    result = run_cli(["--database-url", db_url, "lint", str(path)])
    assert result.exit_code == 0 and "info  require-concurrent-index-creation" in result.stdout and "~10 rows" in result.stdout


def test_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "m.sql"
    path.write_text("CREATE INDEX i1 ON tiny (a);\n")
    result = run_cli(["--database-url", "postgresql://u:secretpw@127.0.0.1:1/db", "lint", str(path)])
    assert result.exit_code == 2 and "secretpw" not in result.output and "Traceback" not in result.output


def test_column_type_change_is_judged_on_the_live_type(sized_tables, tmp_path: Path) -> None:
    sized_tables.execute(
        "CREATE TABLE doc (title varchar(50), body text, price numeric(8,2), n int); ANALYZE doc"
    )
    sql = (
        "ALTER TABLE doc ALTER COLUMN title TYPE varchar(100);\n"  # widening: no rewrite
        "ALTER TABLE doc ALTER COLUMN title TYPE varchar(20);\n"   # narrowing: rewrite
        "ALTER TABLE doc ALTER COLUMN body TYPE varchar(200);\n"   # text to varchar(n): rewrite
        "ALTER TABLE doc ALTER COLUMN price TYPE numeric(12,2);\n"  # more precision, same scale: none
        "ALTER TABLE doc ALTER COLUMN n TYPE bigint;\n"
    )
    findings = [f for f in lint_migrations([_migration(tmp_path, sql)], conn=sized_tables, config=QUIET)
                if f.rule == "changing-column-type"]
    assert [f.line for f in findings] == [2, 3, 5]
    assert "(now varchar(50))" in findings[0].message and "~0 rows" in findings[0].message
    static = [f.line for f in lint_migrations([_migration(tmp_path, sql)], config=QUIET) if f.rule == "changing-column-type"]
    assert static == [1, 2, 3, 4, 5]


def test_stale_zero_statistics_do_not_downgrade_a_certain_failure(db: psycopg.Connection, tmp_path: Path) -> None:
    """Issue 19 item 4: ANALYZEd while empty, then 40 rows (below the auto-analyze threshold)."""
    db.execute("CREATE TABLE stale (id int); ANALYZE stale; INSERT INTO stale SELECT g FROM generate_series(1, 40) g")
    assert db.execute("SELECT reltuples FROM pg_class WHERE relname = 'stale'").fetchone()[0] <= 0
    findings = lint_migrations([_migration(tmp_path, "ALTER TABLE stale ADD COLUMN n int NOT NULL;")], conn=db,
                               config=QUIET)
    [finding] = [f for f in findings if f.rule == "adding-not-nullable-column"]
    assert finding.severity == "error" and "empty" not in finding.message


def test_the_emptiness_probe_of_a_locked_table_is_unknown_not_empty(db: psycopg.Connection, db_url: str) -> None:
    from migration_guard.tasks.lint.probes import probe_emptiness, table_has_rows
    from migration_guard.tasks.catalog import TableStats

    db.execute("CREATE TABLE held (id int); ANALYZE held")
    db.execute("SET lock_timeout = '7s'")
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")  # the EXISTS probe cannot read it
        assert table_has_rows(db, ("public", "held")) is None
        assert probe_emptiness(db, {("public", "held"): TableStats("public", "held", 0, 0)}) == {}
        holder.rollback()
    assert db.execute("SHOW lock_timeout").fetchone()[0] == "7s"  # the probe's bound did not leak
    assert table_has_rows(db, ("public", "held")) is False


def test_estimates_follow_the_pages_written_after_analyze(db: psycopg.Connection, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """reltuples is 0 after ANALYZE on an empty table; 5,000 rows later a blocking finding is sized by
    n_live_tup / the current pages, not by the stale zero."""
    monkeypatch.setattr(lint_context, "SMALL_TABLE_ROWS", 100)
    monkeypatch.setattr(lint_context, "LARGE_TABLE_ROWS", 1000)
    db.execute("CREATE TABLE grown (id int); ANALYZE grown")
    db.execute("INSERT INTO grown SELECT g FROM generate_series(1, 5000) g")
    db.commit()
    findings = lint_migrations([_migration(tmp_path, "CREATE INDEX gi ON grown (id);")], conn=db, config=QUIET)
    [finding] = [f for f in findings if f.rule == "require-concurrent-index-creation"]
    assert finding.severity == "error" and "~0 rows" not in finding.message


def test_an_empty_table_is_checked_not_assumed(db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute("CREATE TABLE really_empty (id int); ANALYZE really_empty")
    [finding] = [f for f in lint_migrations(
        [_migration(tmp_path, "ALTER TABLE really_empty ADD COLUMN n int NOT NULL;")], conn=db, config=QUIET)
        if f.rule == "adding-not-nullable-column"]
    assert finding.severity == "info" and "checked: empty" in finding.message
