"""Rule setting-not-nullable-column: ALTER COLUMN ... SET NOT NULL on an existing table."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.setting_not_nullable_column import RULE

BAD = [
    'ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;',
    'ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\nALTER TABLE t ALTER COLUMN a SET NOT NULL;'  # not validated,
    'ALTER TABLE t ADD CONSTRAINT c CHECK (b IS NOT NULL) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;\nALTER TABLE t ALTER COLUMN a SET NOT NULL;'  # other column,
]

GOOD = [
    'ALTER TABLE "User" ADD CONSTRAINT "User_name_not_null" CHECK ("name" IS NOT NULL) NOT VALID;',
    'CREATE TABLE "User" ("name" TEXT);\nALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;',
    # the rule's own documented fix (issue 19): validated CHECK, then SET NOT NULL (PostgreSQL >= 12 skips the scan)
    'ALTER TABLE "User" ADD CONSTRAINT "User_name_not_null" CHECK ("name" IS NOT NULL) NOT VALID;\n'
    'ALTER TABLE "User" VALIDATE CONSTRAINT "User_name_not_null";\n'
    'ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;\n'
    'ALTER TABLE "User" DROP CONSTRAINT "User_name_not_null";',
    'ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;\nALTER TABLE foo ALTER COLUMN bar SET NOT NULL;'  # CHECK added by an earlier migration,
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]
