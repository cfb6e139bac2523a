"""Rule ban-duplicate-column-assignments: a column assigned or declared twice (PostgreSQL rejects it)."""

import psycopg
import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.ban_duplicate_column_assignments import RULE

BAD = [
    "UPDATE k SET a = 1, a = 2 WHERE id = 1;",
    "UPDATE k SET a = 1, a.x = 2 WHERE id = 1;",
    "INSERT INTO k (a, a) VALUES (1, 2);",
    "INSERT INTO k (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 1, b = 2;",
    "CREATE TABLE t (a int, a text);",
    "CREATE VIEW v AS SELECT 1 a, 2 a;",
    "CREATE VIEW v AS SELECT 1, 2;",
]

GOOD = [
    "UPDATE k SET a = 1, b = 2 WHERE id = 1;",
    "UPDATE k SET a.x = 1, a.y = 2 WHERE id = 1;",
    "UPDATE k SET a[1] = 1, a[2] = 2 WHERE id = 1;",
    'UPDATE k SET "A" = 1, A = 2 WHERE id = 1;',
    "CREATE VIEW v (a, b) AS SELECT 1 a, 2 a;",
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]


def test_postgresql_rejects_what_the_rule_flags(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE k (id int, a int, b int)")
    for sql in ("UPDATE k SET a = 1, a = 2 WHERE id = 1", "INSERT INTO k (a, a) VALUES (1, 2)",
                "CREATE TABLE t2 (a int, a text)", "CREATE VIEW v AS SELECT 1 a, 2 a"):
        assert RULE.code in [f.rule for f in lint_text(sql + ";")]
        with pytest.raises((psycopg.errors.SyntaxError, psycopg.errors.DuplicateColumn)):
            db.execute(sql)
