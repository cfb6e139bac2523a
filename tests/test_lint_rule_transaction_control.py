"""Rule transaction-control: BEGIN / COMMIT / ROLLBACK inside a migration file (uncommitted, nested, or fighting the runner)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.transaction_control import RULE

BAD = [
    'BEGIN;\nALTER TABLE t ADD COLUMN a int;',
    'BEGIN;\nBEGIN;\nALTER TABLE t ADD COLUMN a int;\nCOMMIT;',
    'ALTER TABLE t ADD COLUMN a int;\nCOMMIT;\nALTER TABLE t ADD COLUMN b int;',
]

GOOD = [
    'ALTER TABLE t ADD COLUMN a int;\nALTER TABLE t ADD COLUMN b int;',
    'SAVEPOINT s1;\nRELEASE SAVEPOINT s1;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]


def test_a_balanced_begin_commit_is_reported_only_where_the_runner_manages_the_transaction() -> None:
    from migration_guard.tasks.lint import LintContext

    sql = "BEGIN;\nALTER TABLE t ADD COLUMN a int;\nCOMMIT;"
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]  # psql -f: it makes the file atomic
    for tool in ("prisma", "sql"):
        [finding] = [f for f in lint_text(sql, "m.sql", context=LintContext(tool=tool)) if f.rule == RULE.code]
        assert finding.severity == "warning" and "already manages" in finding.message
