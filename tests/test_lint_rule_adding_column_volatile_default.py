"""Rule adding-column-volatile-default: ADD COLUMN with a volatile DEFAULT (random(), clock_timestamp(), gen_random_uuid(), nextval/serial ...)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.adding_column_volatile_default import RULE

BAD = [
    'ALTER TABLE "User" ADD COLUMN "token" UUID NOT NULL DEFAULT gen_random_uuid();',
    'ALTER TABLE events ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();',
    'ALTER TABLE events ADD COLUMN jitter float8 DEFAULT random() * 10;',
    'ALTER TABLE events ADD COLUMN n serial;',
    'ALTER TABLE t ADD COLUMN j jsonb DEFAULT myjsonb();'  # a user function: volatile unless known otherwise,
    'ALTER TABLE t ADD COLUMN u uuid DEFAULT uuid();',
    'ALTER TABLE t ADD COLUMN u uuid DEFAULT public.now();'  # not pg_catalog's now(),
]

GOOD = [
    'ALTER TABLE "User" ADD COLUMN "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;',
    'ALTER TABLE events ADD COLUMN seen_at timestamptz DEFAULT now();',
    'ALTER TABLE events ADD COLUMN flag boolean NOT NULL DEFAULT false;',
    'CREATE TABLE e (id int);\nALTER TABLE e ADD COLUMN token uuid DEFAULT gen_random_uuid();',
    'ALTER TABLE t ADD COLUMN c text DEFAULT lower(\'X\');',
    'CREATE FUNCTION f() RETURNS int IMMUTABLE LANGUAGE sql AS $$ SELECT 1 $$;\nALTER TABLE t ADD COLUMN c int DEFAULT f();',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]


def test_live_mode_trusts_a_database_function_declared_stable(db, tmp_path) -> None:
    from migration_guard.tasks.lint import lint_migrations
    from migration_guard.tasks.models import Migration

    db.execute("CREATE TABLE t (id int); CREATE FUNCTION app_default() RETURNS int STABLE LANGUAGE sql AS $$ SELECT 1 $$;"
               "CREATE FUNCTION app_random() RETURNS int VOLATILE LANGUAGE sql AS $$ SELECT 1 $$")
    sql = "ALTER TABLE t ADD COLUMN a int DEFAULT app_default();\nALTER TABLE t ADD COLUMN b int DEFAULT app_random();"
    findings = lint_migrations([Migration("1_m", tmp_path / "1_m.sql", sql, "")], conn=db)
    assert [f.line for f in findings if f.rule == RULE.code] == [2]
