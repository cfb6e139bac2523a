"""Rule constraint-missing-not-valid: FOREIGN KEY or CHECK constraint added to an existing table without NOT VALID."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.constraint_missing_not_valid import RULE

BAD = [
    'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;',
    'ALTER TABLE orders ADD CONSTRAINT positive_total CHECK (total >= 0);',
    'BEGIN;\nALTER TABLE e ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID;\nALTER TABLE e VALIDATE CONSTRAINT fk;\nCOMMIT;',
]

GOOD = [
    'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") NOT VALID;\nALTER TABLE "Post" VALIDATE CONSTRAINT "Post_authorId_fkey";',
    'CREATE TABLE "Post" ("id" TEXT NOT NULL, "authorId" TEXT NOT NULL);\nALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;',
    'BEGIN;\nALTER TABLE e ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID;\nCOMMIT;\nALTER TABLE e VALIDATE CONSTRAINT fk;',
    'ALTER TABLE e ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID;\nALTER TABLE e VALIDATE CONSTRAINT fk;'  # autocommit: two transactions,
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]
