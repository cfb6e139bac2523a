"""Rule require-table-schema (opt-in): CREATE / ALTER / DROP TABLE without a schema-qualified name."""

import psycopg
import pytest

from migration_guard.tasks.lint import LintContext, lint_text
from migration_guard.tasks.lint.config import LintConfig, load_config
from migration_guard.tasks.lint.rules.require_table_schema import RULE

ON = LintConfig(enabled=frozenset({RULE.code}))

BAD = [
    "CREATE TABLE my_table (id bigint);",
    "ALTER TABLE my_table ADD COLUMN name text;",
    "DROP TABLE my_table;",
    "CREATE TABLE my_table AS SELECT 1;",
    'CREATE TABLE "AuditLog" ("id" bigint PRIMARY KEY);',
]

GOOD = [
    "CREATE TABLE public.my_table (id bigint);",
    "ALTER TABLE public.my_table ADD COLUMN name text;",
    "DROP TABLE public.my_table;",
    "CREATE TABLE public.my_table AS SELECT 1;",
    "CREATE TEMP TABLE scratch (id int4) ON COMMIT DROP;\nCREATE TEMPORARY TABLE other (id int4);",
    "CREATE TEMP TABLE scratch AS SELECT 1;",
    "CREATE INDEX i ON t (c);",
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql", config=ON) if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql", config=ON)]


def test_is_opt_in() -> None:
    assert RULE.opt_in and RULE.code not in [f.rule for f in lint_text(BAD[0])]
    config = load_config(environ={"LINT_ENABLE": RULE.code})
    assert RULE.code in [f.rule for f in lint_text(BAD[0], config=config)]


def test_the_message_names_the_qualified_table_in_the_project_schema() -> None:
    [finding] = lint_text(BAD[4], config=ON, context=LintContext(default_schema="app"))
    assert 'write app."AuditLog"' in finding.message


def test_an_unqualified_name_follows_search_path_and_the_fix_does_not(db: psycopg.Connection) -> None:
    db.execute("CREATE SCHEMA other")
    db.execute("SET search_path = other, public")  # e.g. a role or connection string setting
    db.execute(BAD[0])
    assert db.execute("SELECT to_regclass('other.my_table') IS NOT NULL, to_regclass('public.my_table')").fetchone() == (True, None)
    for statement in [line.strip() for line in RULE.fix.splitlines() if line.startswith("  ")]:
        db.execute(statement)
    assert db.execute("""SELECT to_regclass('public."AuditLog"') IS NOT NULL""").fetchone() == (True,)
    fixed = "\n".join(line.strip() for line in RULE.fix.splitlines() if line.startswith("  "))
    assert RULE.code not in [f.rule for f in lint_text(fixed, config=ON)]
