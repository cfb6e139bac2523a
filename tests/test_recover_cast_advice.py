"""The cast failure's advice lists the rows with a query that runs as printed: on PostgreSQL < 16 it
brings the pg_temp helper it calls with it (was: the SELECT alone, calling a function defined in
another block)."""

from __future__ import annotations

import re

import psycopg

from migration_guard.tasks.diagnose.cause import FailureCause
from migration_guard.tasks.recover.plan import _fix_cause_hint
from migration_guard.tasks.diagnose.rechecks import _CASTABLE_FUNCTION


def test_the_listing_in_the_advice_runs_when_pasted(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE prices (amount text)")
    db.execute("INSERT INTO prices VALUES ('1'), ('x'), (NULL)")
    listing = (_CASTABLE_FUNCTION + ";\n" + 'SELECT * FROM "public"."prices" WHERE "amount" IS NOT NULL '
               "AND NOT pg_temp.mg_castable(\"amount\"::text, 'integer');")
    hint = _fix_cause_hint(FailureCause("uncastable", True, "values that do not cast", "1 value", offending_rows=1,
                                        listing_query=listing))
    pasted = re.search(r"list them with: (.*)\) then re-run", hint).group(1)
    with psycopg.connect(db.info.dsn, autocommit=True) as fresh:  # a new session, as a person pasting into psql
        cursor = fresh.execute(pasted)  # both statements, as printed
        assert cursor.nextset()  # the SELECT's result follows CREATE FUNCTION's
        rows = cursor.fetchall()
    assert rows == [("x",)]
