"""Rule prefer-bigint (opt-in): int / smallint columns anywhere, not only primary keys."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.config import LintConfig
from migration_guard.tasks.lint.rules.prefer_bigint import RULE

ON = LintConfig(enabled=frozenset({RULE.code}))

BAD = [
    'CREATE TABLE "Order" ("id" BIGINT PRIMARY KEY, "quantity" INTEGER NOT NULL);',
    'ALTER TABLE "Order" ADD COLUMN "count" smallint;',
    'ALTER TABLE "Order" ALTER COLUMN "count" TYPE int;',
    "CREATE TABLE t (n serial);",
]

GOOD = [
    'CREATE TABLE "Order" ("id" BIGINT PRIMARY KEY, "quantity" BIGINT NOT NULL);',
    "ALTER TABLE t ADD COLUMN n int8;",
    "CREATE TABLE t (n bigserial, m numeric);",
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
    from migration_guard.tasks.lint.config import load_config

    config = load_config(environ={"LINT_ENABLE": RULE.code})
    assert RULE.code in [f.rule for f in lint_text(BAD[0], config=config)]
