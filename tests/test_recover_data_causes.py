"""Issue 13, item 2 and the cause re-check table: every statement kind that can fail on the data
in the tables is re-checked read-only (rows counted, a query that lists them), or explicitly
"cannot check" — and an unknown cause never becomes "gone". Real PostgreSQL; the Prisma cases
with the real Prisma CLI in split mode."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.db import connect
from migration_guard.tasks.diagnose import diagnose_migration, load_catalog
from migration_guard.tasks.diagnose.replay import (
    diagnose_by_replay,
    fingerprint,
    migration_statements,
    replay_statements,
    touched_names,
)
from migration_guard.tasks.schema.shadow import shadow_database
from migration_guard.tasks.recover import choose_plan, classify_failure
from migration_guard.tasks.diagnose.rechecks import CANNOT_CHECK, DATA_FAILURE_KINDS, statement_data_kinds
from migration_guard.tasks.sql.statements import split_statements
from tests.test_recover_support import Scenario

#: the statement kinds issue 13 lists, each with one statement of that kind
ISSUE_KINDS = {
    "add_column_not_null": 'ALTER TABLE t ADD COLUMN c int NOT NULL',
    "set_not_null": "ALTER TABLE t ALTER COLUMN v SET NOT NULL",
    "unique": "CREATE UNIQUE INDEX t_v_key ON t (v)",
    "primary_key": "ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY (v)",
    "foreign_key": "ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (pid) REFERENCES p (id)",
    "check": "ALTER TABLE t ADD CONSTRAINT t_chk CHECK (v <> 'x')",
    "type_change": "ALTER TABLE t ALTER COLUMN v TYPE int USING v::int",
    "insert_select": "INSERT INTO p (id) SELECT pid FROM t",
    "update": "UPDATE t SET v = NULL",
    "delete_referenced": "DELETE FROM p",
}


def test_every_data_dependent_statement_kind_is_in_the_one_table() -> None:
    for kind, statement in ISSUE_KINDS.items():
        node = split_statements(statement + ";\n", "m")[0].node
        assert kind in statement_data_kinds(node), (kind, statement_data_kinds(node))
        assert kind in DATA_FAILURE_KINDS
    assert "enum_value_removed" in DATA_FAILURE_KINDS  # checked through the type change to the new enum
    for kind in CANNOT_CHECK:
        assert kind in DATA_FAILURE_KINDS and DATA_FAILURE_KINDS[kind][1] == "cannot check"
    assert statement_data_kinds(split_statements("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;", "m")[0].node) == []
    assert statement_data_kinds(split_statements("ALTER TABLE t ADD COLUMN c serial NOT NULL;", "m")[0].node) == []


def replay_diagnose(db: psycopg.Connection, schema_sql: str, migration: str, logs: str | None):
    """Diagnose ``migration`` by replay: a shadow database holds ``schema_sql`` (DDL only), the live
    database is ``db``."""
    statements = migration_statements(migration, "m")
    names = touched_names(statements)
    live = fingerprint(db, "public", names)
    with shadow_database(db.info.dsn, None, "public") as (shadow_dsn, _label):
        with connect(shadow_dsn) as shadow:
            shadow.execute(schema_sql)
            replay = replay_statements(shadow, statements, "public", names, live)
    catalog = load_catalog(db, ["public"])
    diagnosis = diagnose_by_replay(statements, "m", live, replay, catalog, logs=logs)
    assert diagnosis is not None
    return diagnosis, catalog


SCHEMA = """CREATE TABLE p (id int PRIMARY KEY);
CREATE TYPE "E" AS ENUM ('A', 'B');
CREATE TABLE t (id serial PRIMARY KEY, v text, pid int, e "E");
CREATE TABLE c (id int, pid int REFERENCES p (id));
"""
BASE = SCHEMA + """INSERT INTO p VALUES (1), (2);
INSERT INTO t (v, pid, e) VALUES ('x', 1, 'A'), ('x', 3, 'B'), (NULL, 1, 'A'), ('7', 2, 'B');
INSERT INTO c VALUES (1, 1);
"""

#: (migration, harness log, native-Prisma log, kind, offending rows)
CASES = [
    ('ALTER TABLE t ADD COLUMN n int NOT NULL', "external connector error\nNull constraint failed: ",
     'Database error code: 23502\n\nDatabase error:\nERROR: column "n" of relation "t" contains null values',
     "nulls", 4),
    ("ALTER TABLE t ALTER COLUMN v SET NOT NULL", "external connector error\nNull constraint failed: ",
     "Database error code: 23502", "nulls", 1),
    ("CREATE UNIQUE INDEX t_v_key ON t (v)", "external connector error\nUnique constraint failed: t_v_key",
     'Database error code: 23505\n\nDatabase error:\nERROR: could not create unique index "t_v_key"', "duplicates", 2),
    ("ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (pid) REFERENCES p (id)",
     "external connector error\nForeign key constraint failed: t_fk", "Database error code: 23503", "orphans", 1),
    ("ALTER TABLE t ADD CONSTRAINT t_chk CHECK (v <> 'x')",
     'external connector error\nError querying the database: ERROR: check constraint "t_chk" of relation "t" is '
     "violated by some row", "Database error code: 23514", "check_violation", 2),
    ("ALTER TABLE t ALTER COLUMN v TYPE int USING v::int",
     "external connector error\nError in the underlying connector (WASM_ERROR): Error: unknown variant "
     "`InvalidInputValue`", "Database error code: 22P02", "uncastable", 2),
    ('ALTER TYPE "E" RENAME TO "E_old";\nCREATE TYPE "E" AS ENUM (\'A\');\n'
     'ALTER TABLE t ALTER COLUMN e TYPE "E" USING (e::text::"E");\nDROP TYPE "E_old"',
     "external connector error\nError in the underlying connector (WASM_ERROR): Error: unknown variant "
     "`InvalidInputValue`", "Database error code: 22P02", "uncastable", 2),
    ("INSERT INTO p (id) SELECT pid FROM t", "external connector error\nUnique constraint failed: p_pkey",
     'Database error code: 23505\n\nDatabase error:\nERROR: duplicate key value violates unique constraint "p_pkey"',
     "duplicates", 3),
    ("INSERT INTO c (id, pid) SELECT id, pid FROM t", "external connector error\nForeign key constraint failed: c_pid_fkey",
     "Database error code: 23503", "orphans", 1),
    ("DELETE FROM p WHERE id = 1", "external connector error\nForeign key constraint failed: c_pid_fkey",
     "Database error code: 23503", "orphans", 1),
]


@pytest.mark.parametrize("log_format", ["harness", "native"])
@pytest.mark.parametrize(("migration", "harness", "native", "kind", "rows"), CASES,
                         ids=[c[3] + ":" + c[0].split()[0] + str(i) for i, c in enumerate(CASES)])
def test_each_data_failure_is_named_with_its_rows(db: psycopg.Connection, migration, harness, native, kind, rows,
                                                 log_format) -> None:
    db.execute(BASE)
    logs = harness if log_format == "harness" else native
    diagnosis, catalog = replay_diagnose(db, SCHEMA, migration + ";\n", logs)

    cause = classify_failure(db, diagnosis, catalog, logs)

    assert (cause.kind, cause.present) == (kind, True), cause.describe()
    if cause.offending_rows is not None:
        assert cause.offending_rows == rows, cause.describe()
    if cause.listing_query and not cause.listing_query.startswith("SELECT (") and "LIMIT" not in cause.listing_query:
        listed = db.execute(cause.listing_query.split(";\n")[-1]).fetchall()
        assert listed, cause.listing_query
    assert not choose_plan(diagnosis, cause, "auto").runnable
    assert not choose_plan(diagnosis, cause, "forward").runnable


def test_an_update_that_cannot_be_checked_never_becomes_cause_gone(db: psycopg.Connection) -> None:
    db.execute(BASE)
    sql = "ALTER TABLE t ADD COLUMN w text;\nUPDATE p SET id = id + 1;\n"
    db.execute("ALTER TABLE t ADD COLUMN w text")
    catalog = load_catalog(db, ["public"])
    diagnosis = diagnose_migration(sql, "m", catalog, logs="external connector error\nsomething unexpected")

    cause = classify_failure(db, diagnosis, catalog, "external connector error\nsomething unexpected")

    assert cause.present is None, cause.describe()
    assert "statement 2 (line 2) cannot be checked" in cause.describe()
    assert not choose_plan(diagnosis, cause, "auto").runnable


def test_fixed_data_lets_auto_go_forward(db: psycopg.Connection) -> None:
    db.execute(BASE + "DELETE FROM t WHERE pid = 3; UPDATE t SET v = 'y' WHERE v = 'x';")
    sql = "CREATE UNIQUE INDEX t_v_key ON t (v);\nINSERT INTO p (id) SELECT 10 + id FROM t;\n"
    catalog = load_catalog(db, ["public"])
    logs = "external connector error\nUnique constraint failed: t_v_key"
    diagnosis = diagnose_migration(sql, "m", catalog, logs=logs)

    cause = classify_failure(db, diagnosis, catalog, logs)

    assert cause.present is False, cause.describe()
    assert choose_plan(diagnosis, cause, "auto").runnable


REQUIRED = "20240201000000_required_tenant"
REQUIRED_SQL = ('ALTER TABLE "Account" ADD COLUMN "phone" TEXT;\n'
                'ALTER TABLE "Account" ADD COLUMN "tenantId" INTEGER NOT NULL;\n'
                'ALTER TABLE "Account" ADD COLUMN "country" TEXT;\n')


@pytest.mark.prisma
def test_add_not_null_column_without_default_on_rows_then_follow_the_advice(tmp_path: Path, db_url: str,
                                                                           prisma_cli: Path) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli, {"20240101000000_init": (
        'CREATE TABLE "Account" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, '
        'CONSTRAINT "Account_pkey" PRIMARY KEY ("id"));\n')})
    assert scenario.deploy().returncode == 0
    scenario.sql("""INSERT INTO "Account" (email) VALUES ('a'), ('b'), ('c')""")
    scenario.add(REQUIRED, REQUIRED_SQL)
    assert scenario.deploy(split=True).returncode != 0
    assert "phone" in scenario.columns("Account")

    plan = scenario.recover("--plan")

    assert plan.exit_code == 1, plan.output
    assert "gone now" not in plan.output and "the logs do not say why" not in plan.output
    assert "tenantId has no DEFAULT" in plan.output and "3 offending row(s)" in plan.output
    assert "fix the statement" not in plan.output
    advice = next(line for line in plan.output.splitlines() if line.strip().startswith("next:"))
    assert "recover --mode rollback --yes" in advice and "DEFAULT" in advice
    assert scenario.recover("--mode", "forward", "--yes").exit_code == 1  # refuses: it would fail again
    assert scenario.ledger()[-1][1:] == (False, False)

    rolled = scenario.recover("--mode", "rollback", "--yes", "--no-backup")  # the advice, as printed

    assert rolled.exit_code == 0, rolled.output
    assert "phone" not in scenario.columns("Account")
    scenario.add(REQUIRED, REQUIRED_SQL.replace("INTEGER NOT NULL", "INTEGER NOT NULL DEFAULT 0"))
    assert scenario.deploy(split=True).returncode == 0
    status = scenario.prisma_status()
    assert status.returncode == 0, status.stdout + status.stderr
    assert scenario.drift().clean


def test_an_update_of_columns_no_constraint_covers_cannot_fail(db: psycopg.Connection) -> None:
    db.execute(BASE)
    sql = "ALTER TABLE t ADD COLUMN w text;\nUPDATE t SET w = 'x';\nUPDATE t SET pid = 9;\n"
    db.execute("ALTER TABLE t ADD COLUMN w text")
    diagnosis, catalog = replay_diagnose(db, SCHEMA, sql, "external connector error\nsomething unexpected")

    cause = classify_failure(db, diagnosis, catalog, "external connector error\nsomething unexpected")

    assert [s.effect.value for s in diagnosis.statements] == ["done", "unknown", "unknown"]
    assert cause.present is False, cause.describe()
    assert not choose_plan(diagnosis, cause, "auto").runnable  # still: whether the UPDATEs ran is unknown
