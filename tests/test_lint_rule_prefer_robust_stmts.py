"""Rule prefer-robust-stmts: DDL that fails when re-run, in a file run statement by statement (no transaction)."""

import psycopg
import pytest

from migration_guard.tasks.lint import LintContext, lint_text
from migration_guard.tasks.lint.rules.prefer_robust_stmts import RULE
from migration_guard.tasks.sql.statements import split_statements

BAD = [
    'ALTER TABLE "User" ADD COLUMN "bio" text;\nCREATE INDEX "User_bio_idx" ON "User" ("bio");',
    "CREATE TABLE t (id bigint);\nCREATE TABLE u (id bigint);",
    "DROP TABLE t;\nDROP TYPE mood;",
    "ALTER TABLE t DROP COLUMN c;\nALTER TABLE t DROP CONSTRAINT t_c_key;",
    "SELECT 1;\nALTER TABLE t ADD CONSTRAINT t_c_key UNIQUE (c);",
    "SELECT 1;\nCREATE INDEX ON t (c);",
    "SELECT 1;\nALTER TABLE t RENAME COLUMN a TO b;",
]

GOOD = [
    'BEGIN;\nALTER TABLE "User" ADD COLUMN "bio" text;\nCREATE INDEX "User_bio_idx" ON "User" ("bio");\nCOMMIT;',
    'ALTER TABLE "User" ADD COLUMN IF NOT EXISTS "bio" text;\nCREATE INDEX IF NOT EXISTS "User_bio_idx" ON "User" ("bio");',
    'ALTER TABLE "User" ADD COLUMN "bio" text;',  # one statement: atomic on its own
    "ALTER TABLE t DROP CONSTRAINT IF EXISTS t_c_key;\nALTER TABLE t ADD CONSTRAINT t_c_key UNIQUE (c);",
    "SELECT 1;\nCREATE TEMP TABLE scratch (id int) ON COMMIT DROP;",
    "SELECT 1;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;",  # re-running it succeeds
    "SELECT 1;\nINSERT INTO t VALUES (1);",
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]


@pytest.mark.parametrize("tool", ["prisma", "sql"])
def test_runners_that_make_a_file_atomic_are_not_told(tool: str) -> None:
    """Prisma sends the file as one query (one implicit transaction); migration-guard's runner wraps it."""
    assert RULE.code not in [f.rule for f in lint_text(BAD[0], "m.sql", context=LintContext(tool=tool))]


def test_every_statement_that_fails_a_rerun_is_named() -> None:
    messages = [f.message for f in lint_text(BAD[3], "m.sql") if f.rule == RULE.code]
    assert len(messages) == 2 and "DROP COLUMN c" in messages[0] and "DROP CONSTRAINT t_c_key" in messages[1]
    [unnamed] = [f.message for f in lint_text(BAD[5], "m.sql") if f.rule == RULE.code]
    assert "duplicate index" in unnamed


def _run_each(db: psycopg.Connection, sql: str) -> None:
    """Run the statements one by one in autocommit, as psql -f does."""
    for statement in split_statements(sql, "m.sql"):
        db.execute(statement.text)


def _fix_blocks() -> tuple[str, str]:
    """The fix's two SQL blocks: the transaction-wrapped file and the re-runnable one."""
    lines = [line.strip() for line in RULE.fix.splitlines() if line.startswith("  ")]
    commit = lines.index("COMMIT;")
    return "\n".join(lines[:commit + 1]), "\n".join(lines[commit + 1:])


def test_the_flagged_file_really_fails_a_rerun_and_the_fix_does_not(db: psycopg.Connection) -> None:
    db.execute('CREATE TABLE "User" (id bigint PRIMARY KEY)')
    _run_each(db, BAD[0])
    with pytest.raises(psycopg.errors.DuplicateColumn):
        _run_each(db, BAD[0])
    wrapped, rerunnable = _fix_blocks()
    db.execute('ALTER TABLE "User" DROP COLUMN "bio"')
    _run_each(db, wrapped)  # pasted as printed, on a database without the column
    _run_each(db, rerunnable)
    _run_each(db, rerunnable)  # and again: every statement is re-runnable
    assert db.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'User_bio_key'").fetchone() == (1,)
    for block in (wrapped, rerunnable):
        assert RULE.code not in [f.rule for f in lint_text(block, "fix.sql")]
