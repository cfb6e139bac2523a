"""Rule require-statement-timeout: a schema change on an existing table or index with no statement_timeout
set first in the file."""

import time

import psycopg
import pytest

from migration_guard.tasks.lint import LintContext, lint_text
from migration_guard.tasks.lint.rules.require_statement_timeout import RULE
from migration_guard.tasks.lint.timeouts import sets_timeout
from migration_guard.tasks.sql.statements import split_statements

BAD = [
    'ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c boolean;",
    "COMMENT ON COLUMN t.c IS 'an opaque id';",
    "LOCK TABLE t IN ACCESS SHARE MODE;",
    "REINDEX (CONCURRENTLY false) INDEX idx;",
    "VACUUM (FULL false) t;",
    "SET statement_timeout = 0;\nALTER TABLE t ADD COLUMN c boolean;",  # 0 switches the timeout off
    "ALTER TABLE t ADD COLUMN c boolean;\nSET statement_timeout = '5s';",  # too late
]

GOOD = [
    "SET statement_timeout = '5s';\nALTER TABLE t ADD COLUMN c boolean;",
    "SET Statement_Timeout = '5s';\nALTER TABLE t ADD COLUMN c boolean;",
    'CREATE TABLE "Tag" (id bigint);\nALTER TABLE "Tag" ADD COLUMN "name" text;',
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON "Post" ("title");',  # meant to run long, blocks no one
    "SELECT * FROM t;\nUPDATE t SET a = 1 WHERE id = 2;",
    "CREATE TYPE mood AS ENUM ('sad', 'ok');",
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]


def test_reported_once_per_file_at_the_first_such_statement() -> None:
    sql = "CREATE TABLE a (id bigint);\nALTER TABLE t ADD COLUMN c int;\nALTER TABLE u ADD COLUMN c int;"
    [finding] = [f for f in lint_text(sql, "m.sql", context=LintContext(tool="prisma")) if f.rule == RULE.code]
    assert finding.line == 2 and finding.severity == "info" and "ACCESS EXCLUSIVE lock on t" in finding.message


@pytest.mark.parametrize("sql, expected", [
    ("SET statement_timeout = '5s'", True), ("SET LOCAL statement_timeout TO 5000", True),
    ("SET statement_timeout = 0", False), ("SET statement_timeout TO DEFAULT", False),
    ("RESET statement_timeout", False), ("SET foo.statement_timeout = '5s'", False),
])
def test_which_set_counts_as_a_timeout(sql: str, expected: bool) -> None:
    [statement] = split_statements(sql, "m.sql")
    assert sets_timeout(statement.node, "statement_timeout") is expected


def test_the_fix_runs_and_bounds_a_statement_stuck_behind_a_lock(db: psycopg.Connection, db_url: str) -> None:
    db.execute('CREATE TABLE "User" (id bigint PRIMARY KEY)')
    fix = [line.strip() for line in RULE.fix.splitlines() if line.startswith("  ")]
    for statement in fix:
        db.execute(statement)
    assert db.execute("SELECT current_setting('statement_timeout')").fetchone() == ("1min",)
    with psycopg.connect(db_url) as holder:  # a transaction holding a lock the ALTER must wait for
        holder.execute('SELECT * FROM "User"')
        db.execute("SET statement_timeout = '300ms'")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            db.execute('ALTER TABLE "User" ADD COLUMN "note" text')
        assert time.monotonic() - started < 3
