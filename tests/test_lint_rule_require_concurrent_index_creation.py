"""Rule require-concurrent-index-creation: CREATE INDEX on an existing table without CONCURRENTLY."""

import subprocess

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.require_concurrent_index_creation import RULE

BAD = [
    'CREATE INDEX "Post_authorId_idx" ON "Post"("authorId");',
    'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");',
    'DO $$ BEGIN CREATE INDEX i ON orders (created_at); END $$;',
]

GOOD = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Post_authorId_idx" ON "Post"("authorId");',
    'CREATE TABLE "Post" ("id" TEXT NOT NULL, "authorId" TEXT);\nCREATE INDEX "Post_authorId_idx" ON "Post"("authorId");',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.path == "m.sql" for f in findings)
    assert all("CONCURRENTLY IF NOT EXISTS" in f.fix for f in findings)


def test_the_fix_is_this_statement_built_concurrently_and_pastes(db_url: str, db) -> None:
    db.execute('CREATE TABLE "Order" (id int, "customerId" int, total numeric); '
               'INSERT INTO "Order" SELECT g, g % 7, g FROM generate_series(1, 100) g')
    sql = 'CREATE UNIQUE INDEX "Order_id_key" ON "Order" USING btree (id) WHERE total > 0;'
    [finding] = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]

    statement = 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Order_id_key" ON "Order" (id) WHERE total > 0;'
    assert f"\n  {statement}\n" in finding.fix
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "Order_id_key";' in finding.fix
    for _ in range(2):  # pasted as printed, twice: a retry is safe
        pasted = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", db_url], input=statement + "\n",
                                capture_output=True, text=True, timeout=60)
        assert pasted.returncode == 0, pasted.stderr
    assert db.execute("SELECT count(*) FROM pg_index WHERE indexrelid = '\"Order_id_key\"'::regclass AND indisvalid").fetchone()[0] == 1


def test_an_unnamed_index_keeps_the_generic_fix() -> None:
    [finding] = [f for f in lint_text('CREATE INDEX ON orders (created_at);', "m.sql") if f.rule == RULE.code]
    assert finding.fix == RULE.fix


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]
