"""Rule require-concurrent-index-deletion: DROP INDEX without CONCURRENTLY."""

import subprocess

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.require_concurrent_index_deletion import RULE

BAD = [
    'DROP INDEX "Post_authorId_idx";',
    'DROP INDEX IF EXISTS app.idx_orders_created;',
]

GOOD = [
    'DROP INDEX CONCURRENTLY IF EXISTS "Post_authorId_idx";',
    'DROP TABLE IF EXISTS "Tmp";',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.path == "m.sql" for f in findings)


def test_the_fix_names_each_index_and_pastes(db_url: str, db) -> None:
    db.execute('CREATE SCHEMA app; CREATE TABLE app.orders (created_at date); CREATE TABLE "Post" ("authorId" int);'
               'CREATE INDEX idx_orders_created ON app.orders (created_at); CREATE INDEX "Post_authorId_idx" ON "Post" ("authorId")')
    findings = [f for f in lint_text('DROP INDEX "Post_authorId_idx", app.idx_orders_created;', "m.sql")
                if f.rule == RULE.code]

    fixes = [f.fix.splitlines()[-1].strip() for f in findings]
    assert fixes == ['DROP INDEX CONCURRENTLY IF EXISTS "Post_authorId_idx";',
                     "DROP INDEX CONCURRENTLY IF EXISTS app.idx_orders_created;"]
    for statement in fixes:  # one index per statement: PostgreSQL refuses several with CONCURRENTLY
        pasted = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", db_url], input=statement + "\n",
                                capture_output=True, text=True, timeout=60)
        assert pasted.returncode == 0, pasted.stderr
    assert db.execute("SELECT count(*) FROM pg_class WHERE relkind = 'i' AND relname IN "
                      "('Post_authorId_idx', 'idx_orders_created')").fetchone()[0] == 0


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]
