"""Diagnosis against a real catalog: every covered statement kind is judged done / not done at
every cut point of a migration, partly-done states are recognised, and order inference and log
parsing follow their rules."""

from __future__ import annotations

import psycopg
import pytest

from migration_guard.tasks.diagnose import Effect, diagnose_migration, load_catalog
from migration_guard.tasks.diagnose.infer import infer_from_order
from migration_guard.tasks.diagnose.logs import failing_statement_from_logs
from migration_guard.tasks.diagnose.model import StatementDiagnosis
from migration_guard.tasks.recover.plan import forward_plan
from migration_guard.tasks.sql.statements import split_statements

BASE = """
CREATE TABLE "P" ("id" INTEGER PRIMARY KEY);
CREATE TABLE "Old" ("id" INTEGER);
CREATE TABLE "T" ("id" INTEGER PRIMARY KEY, "a" TEXT, "b" INTEGER, "c" TEXT DEFAULT 'x', "d" INTEGER NOT NULL,
                  "r" TEXT, CONSTRAINT "T_d_old_check" CHECK ("d" > -5));
CREATE INDEX "T_old_idx" ON "T" ("d");
CREATE TYPE "E" AS ENUM ('x');
INSERT INTO "P" VALUES (1);
INSERT INTO "T" VALUES (1, 'a', 1, 'c1', 1, 'r');
"""

MIGRATION = """\
CREATE TABLE "N" ("id" INTEGER NOT NULL);
DROP TABLE "Old";
ALTER TABLE "T" ADD COLUMN "e" TIMESTAMP(3) NOT NULL DEFAULT now();
ALTER TABLE "T" DROP COLUMN "a";
ALTER TABLE "T" ALTER COLUMN "b" TYPE BIGINT;
INSERT INTO "P" VALUES (2);
ALTER TABLE "T" ALTER COLUMN "c" SET NOT NULL;
ALTER TABLE "T" ALTER COLUMN "d" DROP NOT NULL;
ALTER TABLE "T" ALTER COLUMN "c" DROP DEFAULT;
ALTER TABLE "T" ALTER COLUMN "b" SET DEFAULT 1;
ALTER TABLE "T" ADD CONSTRAINT "T_b_fkey" FOREIGN KEY ("b") REFERENCES "P"("id");
ALTER TABLE "T" ADD UNIQUE ("c");
ALTER TABLE "T" ADD CHECK ("d" > 0);
DO $$ BEGIN PERFORM 1; END $$;
ALTER TABLE "T" DROP CONSTRAINT "T_d_old_check";
CREATE INDEX "T_c_idx" ON "T" ("c");
DROP INDEX "T_old_idx";
CREATE TYPE "Mood" AS ENUM ('ok', 'sad');
ALTER TYPE "E" ADD VALUE 'y';
ALTER TABLE "T" RENAME COLUMN "r" TO "r2";
ALTER TABLE "N" RENAME TO "N2";
CREATE EXTENSION "hstore";
CREATE SEQUENCE "S";
ALTER TABLE "N2" ADD CONSTRAINT "N2_pkey" PRIMARY KEY ("id");
"""
COUNT = len(split_statements(MIGRATION))


def _state(db: psycopg.Connection, applied: int) -> None:
    db.execute(BASE)
    for statement in split_statements(MIGRATION)[:applied]:
        db.execute(statement.text)


@pytest.mark.parametrize("applied", [0, 1, 4, 7, 10, 12, 16, 19, 21, COUNT - 1, COUNT])
def test_each_statement_is_judged_at_every_cut_point(db: psycopg.Connection, applied: int) -> None:
    _state(db, applied)

    diagnosis = diagnose_migration(MIGRATION, "m", load_catalog(db, ["public"]))

    effects = [s.effect for s in diagnosis.statements]
    assert effects == [Effect.DONE] * applied + [Effect.NOT_DONE] * (COUNT - applied), diagnosis.to_rows()
    if 0 < applied < COUNT:
        assert diagnosis.failing_index == applied


def test_an_unprovable_statement_before_the_first_not_done_stays_unknown_unless_logs_name_the_failure(
    db: psycopg.Connection,
) -> None:
    _state(db, 6)  # the INSERT (statement 6) ran, statement 7 did not; the catalog cannot see the INSERT
    catalog = load_catalog(db, ["public"])

    guessed = diagnose_migration(MIGRATION, "m", catalog)
    told = diagnose_migration(MIGRATION, "m", catalog, logs="statement 7 (line 7) failed: ... (SQLSTATE 23502)")

    assert guessed.statements[5].effect is Effect.UNKNOWN
    assert told.statements[5].effect is Effect.DONE and told.failing_index == 6
    assert not forward_plan(guessed).runnable and forward_plan(told).runnable


def test_catalog_verdicts_without_order_are_exact(db: psycopg.Connection) -> None:
    _state(db, COUNT)

    diagnosis = diagnose_migration(MIGRATION, "m", load_catalog(db, ["public"]))

    by_line = {s.index: s for s in diagnosis.statements}
    assert not by_line[5].inferred or by_line[5].effect is Effect.DONE  # the INSERT: only order says it ran
    assert by_line[5].inferred and by_line[13].inferred  # DML and DO blocks are never read from the catalog
    assert by_line[0].inferred and "undone later" in by_line[0].reason  # "N" was renamed by a later statement
    assert by_line[11].resolved_name == "T_c_key"  # the unnamed UNIQUE found by definition
    assert by_line[12].resolved_name == "T_d_check"  # the unnamed CHECK found by definition
    assert not by_line[2].inferred and "timestamp(3) without time zone NOT NULL" in by_line[2].reason


def test_add_column_with_another_type_is_partly_done_and_blocks_forward(db: psycopg.Connection) -> None:
    db.execute('CREATE TABLE "T" ("id" INTEGER, "x" TEXT)')
    sql = 'ALTER TABLE "T" ADD COLUMN "x" INTEGER NOT NULL, ADD COLUMN "y" TEXT;'

    diagnosis = diagnose_migration(sql, "m", load_catalog(db, ["public"]))

    statement = diagnosis.statements[0]
    assert statement.effect is Effect.PARTLY_DONE
    assert "type is text, the migration says integer" in statement.reason
    assert "nullable, the migration says NOT NULL" in statement.reason
    plan = forward_plan(diagnosis)
    assert not plan.runnable and "partly done" in plan.blocked_reason


def test_partly_applied_alter_table_runs_only_the_missing_sub_commands(db: psycopg.Connection) -> None:
    db.execute('CREATE TABLE "T" ("id" INTEGER, "x" TEXT)')
    sql = 'ALTER TABLE "T" ADD COLUMN "x" TEXT, ADD COLUMN "y" TEXT;'

    diagnosis = diagnose_migration(sql, "m", load_catalog(db, ["public"]))

    assert diagnosis.statements[0].effect is Effect.PARTLY_DONE
    plan = forward_plan(diagnosis)
    assert [s.sql for s in plan.steps] == ['ALTER TABLE "T" ADD COLUMN y text']
    db.execute(plan.steps[0].sql)


def test_invalid_index_and_not_valid_constraint_are_partly_done(db: psycopg.Connection) -> None:
    db.execute('CREATE TABLE "T" ("id" INTEGER, "e" TEXT); INSERT INTO "T" VALUES (1, \'a\'), (2, \'a\'), (-1, \'b\')')
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute('CREATE UNIQUE INDEX CONCURRENTLY "T_e_key" ON "T" ("e")')
    db.execute('ALTER TABLE "T" ADD CONSTRAINT "T_id_check" CHECK ("id" > 0) NOT VALID')
    sql = ('CREATE UNIQUE INDEX CONCURRENTLY "T_e_key" ON "T" ("e");\n'
           'ALTER TABLE "T" ADD CONSTRAINT "T_id_check" CHECK ("id" > 0);\n')

    diagnosis = diagnose_migration(sql, "m", load_catalog(db, ["public"]))

    index, check = diagnosis.statements
    assert index.effect is Effect.PARTLY_DONE and index.invalid_index == "T_e_key"
    assert check.effect is Effect.PARTLY_DONE and check.unvalidated_constraint == "T_id_check"
    steps = [s.sql for s in forward_plan(diagnosis).steps]
    assert steps[0] == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."T_e_key"'
    assert steps[-1] == 'ALTER TABLE "public"."T" VALIDATE CONSTRAINT "T_id_check"'


def _verdicts(*effects: Effect, evidence: bool = True) -> list[StatementDiagnosis]:
    return [StatementDiagnosis(i, i + 1, f"s{i}", "X", e, "catalog", evidence=evidence) for i, e in enumerate(effects)]


D, N, U, P = Effect.DONE, Effect.NOT_DONE, Effect.UNKNOWN, Effect.PARTLY_DONE


@pytest.mark.parametrize(("given", "named", "expected", "failing"), [
    ([U, D, N, U], None, [D, D, N, N], 2),  # unknown before a done ran; unknown after the first not-done did not
    ([D, U, N, U], None, [D, U, N, N], 2),  # between the last done and the first not-done: never guess
    ([D, U, N, U], 1, [D, N, N, N], 1),  # ...unless the logs name the failing statement
    ([D, U, U, N], 2, [D, D, N, N], 2),  # statements before the named failing one ran (step by step)
    ([U, N, U, N], 2, [N, N, N, N], 2),  # nothing ran: the whole migration rolled back in one transaction
    ([N, D, N], None, [D, D, N], 2),  # a not-done before a done ran, and a later statement undid it
    ([D, P, N], None, [D, P, N], 1),  # a partly-done statement is where it failed
    ([U, U], None, [U, U], None),  # nothing known: nothing inferred
])
def test_order_inference_rules(given, named, expected, failing) -> None:
    inferred, failing_index = infer_from_order(_verdicts(*given), named)

    assert [s.effect for s in inferred] == expected
    assert failing_index == failing


def test_done_without_evidence_proves_nothing_about_order() -> None:
    verdicts = _verdicts(U, N)
    verdicts.append(StatementDiagnosis(2, 3, "CREATE TABLE IF NOT EXISTS", "X", D, "exists", evidence=False))

    inferred, _ = infer_from_order(verdicts)

    assert inferred[0].effect is U


def test_failing_statement_from_logs() -> None:
    statements = split_statements(
        'ALTER TABLE "T" ADD COLUMN "a" TEXT;\nCREATE UNIQUE INDEX "T_a_key" ON "T"("a");\n'
        'ALTER TABLE "T" ADD CONSTRAINT "T_fk" FOREIGN KEY ("a") REFERENCES "U"("a");\n')

    assert failing_statement_from_logs(statements, "statement 2 (line 2) failed: duplicate key (SQLSTATE 23505)") == 1
    assert failing_statement_from_logs(statements, "Foreign key constraint failed: T_fk") == 2
    assert failing_statement_from_logs(statements, 'Database error:\nERROR: x\n   CREATE UNIQUE INDEX "T_a_key" ON "T"("a")') == 1
    assert failing_statement_from_logs(statements, "something else entirely") is None
    assert failing_statement_from_logs(statements, None) is None


@pytest.mark.parametrize(("current", "statement", "effect"), [
    ("DEFAULT 'PENDING'", "SET DEFAULT 'PENDING'", Effect.DONE),
    ("DEFAULT 'OPEN'", "SET DEFAULT 'PENDING'", Effect.NOT_DONE),  # a changed default is not "done"
    ("DEFAULT -1", "SET DEFAULT -1", Effect.DONE),
    ("DEFAULT now()", "SET DEFAULT CURRENT_TIMESTAMP", Effect.NOT_DONE),
    ("", "SET DEFAULT 'x'", Effect.NOT_DONE),
])
def test_set_default_compares_the_expression(db: psycopg.Connection, current: str, statement: str, effect: Effect) -> None:
    kind = "integer" if "-1" in statement else "text" if "'" in statement else "timestamp"
    db.execute(f'CREATE TABLE "T" ("c" {kind} {current})')

    diagnosis = diagnose_migration(f'ALTER TABLE "T" ALTER COLUMN "c" {statement};', "m", load_catalog(db, ["public"]))

    assert diagnosis.statements[0].effect is effect, diagnosis.statements[0].reason
