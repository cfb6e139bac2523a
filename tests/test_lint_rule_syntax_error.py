"""Rule syntax-error: The statement does not parse (PostgreSQL's own parser, via pglast)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.syntax_error import RULE

BAD = [
    'CREATE TABLE "User" (;',
    'SELECT $$ unterminated',
    "DO $$ BEGIN RAISE NOTIC 'x'; END $$;",
    "DO $$ BEGIN EXECUTE 'ALTR TABLE t'; END $$;",
    "CREATE FUNCTION v() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;",
]

GOOD = [
    'CREATE TABLE "User" ("id" TEXT NOT NULL);',
    "DO $$ BEGIN RAISE NOTICE 'x'; END $$;",
    # PL/pgSQL is checked against the function's real signature
    "CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN i + 1; END $$;",
    "CREATE FUNCTION nums() RETURNS SETOF int LANGUAGE plpgsql AS $$ BEGIN RETURN NEXT 1; RETURN; END $$;",
    "CREATE FUNCTION o(OUT a int) LANGUAGE plpgsql AS $$ BEGIN a := 1; RETURN; END $$;",
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]
