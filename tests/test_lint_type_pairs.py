"""ALTER COLUMN TYPE: which type changes rewrite the table, judged by PostgreSQL itself.

Every pair runs on the real server (a rewrite gives the table a new relfilenode) and must agree with
``locks.binary_coercible`` (live lint's verdict from the catalog's old type) and with live lint's
finding; static lint (no database, the old type unknown) must flag every one of them.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.catalog import column_types
from migration_guard.tasks.lint import lint_migrations, lint_text, parse_config
from migration_guard.tasks.models import Migration
from migration_guard.tasks.sql.locks import binary_coercible, column_type_of

QUIET = parse_config("missing-lock-timeout")

#: (current type, new type, rewrites) — PostgreSQL 15.
PAIRS: list[tuple[str, str, bool]] = [
    ("int", "bigint", True),
    ("bigint", "int", True),
    ("smallint", "int", True),
    ("int", "numeric(65,30)", True),
    ("int", "text", True),
    ("int", "int", False),
    ("bigint", "numeric", True),
    ("numeric(10,2)", "numeric(12,2)", False),
    ("numeric(10,2)", "numeric", False),
    ("numeric(10)", "numeric(12)", False),
    ("numeric(10,2)", "numeric(12,3)", True),
    ("numeric(10,2)", "numeric(8,2)", True),
    ("numeric", "numeric(10,2)", True),
    ("text", "varchar", False),
    ("text", "varchar(10)", True),
    ("varchar(10)", "varchar(20)", False),
    ("varchar(20)", "varchar(10)", True),
    ("varchar(10)", "text", False),
    ("varchar", "text", False),
    ("varchar(10)", "varchar", False),
    ("varchar", "varchar(10)", True),
    ("char(5)", "text", True),
    ("char(5)", "varchar(10)", True),
    ("char(5)", "char(10)", True),
    ("text", "char(5)", True),
    ("timestamp(3)", "timestamp(6)", False),
    ("timestamp(3)", "timestamp", False),
    ("timestamp(6)", "timestamp(3)", True),
    ("timestamp", "timestamptz", True),  # rewrite-free only when the session TimeZone is UTC
    ("timestamptz(3)", "timestamptz", False),
    ("timestamptz", "timestamp", True),
    ("uuid", "text", True),
    ("json", "jsonb", True),
    ("jsonb", "json", True),
    ("json", "text", True),
    ("mood", "text", True),
    ("mood", "mood", False),
    ("int[]", "bigint[]", True),
    ("text", "citext", False),
    ("citext", "text", False),
]


def _relfilenode(db: psycopg.Connection, table: str) -> int:
    return db.execute("SELECT relfilenode FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()[0]


@pytest.fixture
def typed_db(db: psycopg.Connection) -> psycopg.Connection:
    db.execute("CREATE EXTENSION IF NOT EXISTS citext")
    db.execute("CREATE TYPE mood AS ENUM ('happy', 'sad')")
    db.execute("SET TimeZone = 'America/New_York'")
    return db


def test_postgresql_agrees_with_the_pair_table_and_live_lint(typed_db: psycopg.Connection, tmp_path: Path) -> None:
    sql_lines = []
    for index, (old, new, _) in enumerate(PAIRS):
        typed_db.execute(f"CREATE TABLE p{index} (c {old})")
        sql_lines.append(f"ALTER TABLE p{index} ALTER COLUMN c TYPE {new};")
    types = column_types(typed_db, [("public", f"p{i}") for i in range(len(PAIRS))])
    findings = lint_migrations([Migration("1_m", tmp_path / "1_m.sql", "\n".join(sql_lines), "")],
                               conn=typed_db, config=QUIET)
    flagged_lines = {f.line for f in findings if f.rule == "changing-column-type"}
    mismatches = []
    for index, (old, new, rewrites) in enumerate(PAIRS):
        before = _relfilenode(typed_db, f"p{index}")
        typed_db.execute(sql_lines[index])
        postgres_rewrote = _relfilenode(typed_db, f"p{index}") != before
        current = types[("public", f"p{index}", "c")]
        new_name, new_mods = column_type_of(_parse_type(new))
        ours = not binary_coercible(current.type_name, current.modifiers, new_name, new_mods)
        if not (postgres_rewrote == rewrites == ours == ((index + 1) in flagged_lines)):
            mismatches.append((old, new, f"table={rewrites} postgres={postgres_rewrote} ours={ours} "
                               f"live-lint={(index + 1) in flagged_lines}"))
    assert not mismatches


@pytest.mark.parametrize(("old", "new"), [(old, new) for old, new, _ in PAIRS if old != new])
def test_static_lint_counts_every_type_change_as_a_rewrite(old: str, new: str) -> None:
    findings = [f for f in lint_text(f"ALTER TABLE t ALTER COLUMN c TYPE {new};") if f.rule == "changing-column-type"]
    assert findings and findings[0].severity == "error" and "unknown" in findings[0].message


def test_the_issue_examples_are_rewrites_without_a_database() -> None:
    for sql in ('ALTER TABLE "User" ALTER COLUMN "id" SET DATA TYPE TEXT;',
                "ALTER TABLE t ALTER COLUMN n TYPE numeric(65,30);"):
        [finding] = [f for f in lint_text(sql) if f.rule == "changing-column-type"]
        assert finding.severity == "error" and "rewrites the table" in finding.message


def _parse_type(spelling: str):
    from pglast import parse_sql

    return parse_sql(f"ALTER TABLE t ALTER COLUMN c TYPE {spelling}")[0].stmt.cmds[0].def_.typeName
