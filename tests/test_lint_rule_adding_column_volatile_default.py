"""Rule adding-column-volatile-default: ADD COLUMN with a volatile DEFAULT (random(), clock_timestamp(), gen_random_uuid(), nextval/serial ...)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.adding_column_volatile_default import RULE

BAD = [
    'ALTER TABLE "User" ADD COLUMN "token" UUID NOT NULL DEFAULT gen_random_uuid();',
    'ALTER TABLE events ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();',
    'ALTER TABLE events ADD COLUMN jitter float8 DEFAULT random() * 10;',
    'ALTER TABLE events ADD COLUMN n serial;',
]

GOOD = [
    'ALTER TABLE "User" ADD COLUMN "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;',
    'ALTER TABLE events ADD COLUMN seen_at timestamptz DEFAULT now();',
    'ALTER TABLE events ADD COLUMN flag boolean NOT NULL DEFAULT false;',
    'CREATE TABLE e (id int);\nALTER TABLE e ADD COLUMN token uuid DEFAULT gen_random_uuid();',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]
