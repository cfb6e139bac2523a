"""Fuzz the linter and the diagnosis with generated migration SQL (hypothesis): never a crash,
every finding and every verdict well-formed. The diagnosis reads one real catalog snapshot of a
small database (hostile names included), taken once."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from migration_guard.tasks.diagnose import diagnose_migration, load_catalog
from migration_guard.tasks.diagnose.model import Effect
from migration_guard.tasks.lint.engine import lint_text
from migration_guard.tasks.lint.findings import SEVERITIES
from migration_guard.tasks.lint.registry import rules_by_code
from migration_guard.tasks.schema.model import SchemaSnapshot
from tests.security.conftest import HOSTILE_SCHEMA, HOSTILE_TABLES

pytestmark = pytest.mark.security

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


TABLES = [_quoted(t) for t in HOSTILE_TABLES] + ["items", "missing_table", f"{_quoted(HOSTILE_SCHEMA)}.items",
                                                 "pg_catalog.pg_class", '"Items"', "public.items"]
COLUMNS = ["id", "sku", '"a""b"', '"ünïcode col"', '"select"', "missing_col", '"DROP TABLE x; --"']
NAMES = ["items_sku_idx", '"i""dx"', '"ünï idx"', "mood", "items_qty_check", '"select"', "nope"]
TYPES = ["int", "bigint", "text", "varchar(10)", "numeric(10,2)", "timestamptz", "mood", "json", "char(3)",
         "integer[]", '"ünïcode type"', "serial"]
TEMPLATES = [
    "CREATE TABLE {t} ({c} {ty})", "CREATE TABLE IF NOT EXISTS {t} ({c} {ty} PRIMARY KEY)",
    "ALTER TABLE {t} ADD COLUMN {c} {ty}", "ALTER TABLE {t} ADD COLUMN {c} {ty} NOT NULL DEFAULT 0",
    "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} {ty} DEFAULT now()", "ALTER TABLE {t} DROP COLUMN {c}",
    "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty}", "ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL",
    "ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL", "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT 1",
    "ALTER TABLE {t} ADD CONSTRAINT {n} UNIQUE ({c})", "ALTER TABLE {t} ADD CONSTRAINT {n} CHECK ({c} > 0) NOT VALID",
    "ALTER TABLE {t} ADD FOREIGN KEY ({c}) REFERENCES {t} ({c})", "ALTER TABLE {t} VALIDATE CONSTRAINT {n}",
    "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {n}", "ALTER TABLE {t} ADD PRIMARY KEY ({c})",
    "CREATE INDEX {n} ON {t} ({c})", "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {n} ON {t} ({c})",
    "CREATE INDEX ON {t} USING gin ({c})", "DROP INDEX CONCURRENTLY IF EXISTS {n}", "DROP TABLE {t} CASCADE",
    "ALTER TABLE {t} RENAME TO {n}", "ALTER TABLE {t} RENAME COLUMN {c} TO {c}", "ALTER INDEX {n} RENAME TO {n}",
    "CREATE TYPE {n} AS ENUM ('a', 'b''c')", "ALTER TYPE {n} ADD VALUE IF NOT EXISTS 'z'", "DROP TYPE {n}",
    "UPDATE {t} SET {c} = 1", "DELETE FROM {t}", "INSERT INTO {t} ({c}) VALUES (1)", "TRUNCATE {t}",
    "VACUUM FULL {t}", "CLUSTER {t}", "REINDEX TABLE {t}", "ALTER TABLE {t} SET UNLOGGED",
    "CREATE EXTENSION IF NOT EXISTS {n}", "CREATE SEQUENCE {n}", "DROP SEQUENCE {n}", "CREATE VIEW {n} AS SELECT 1",
    "DROP VIEW {n}", "CREATE SCHEMA {n}", "DROP SCHEMA {n} CASCADE", "SET lock_timeout = '1s'", "BEGIN", "COMMIT",
    "DO $$ BEGIN EXECUTE 'ALTER TABLE {t} ADD COLUMN x int'; END $$",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $f$ SELECT 1 $f$",
    "ALTER TABLE {t} ALTER COLUMN {c} ADD GENERATED ALWAYS AS IDENTITY",
    "ALTER TABLE {t} DETACH PARTITION {t}", "ALTER TABLE {t} ADD CONSTRAINT {n} EXCLUDE USING gist ({c} WITH =)",
    "-- migration-guard:ignore {n} because\nALTER TABLE {t} ADD COLUMN {c} {ty}",
]
GARBAGE = ["SELEC 1", "'unterminated", "$$", "(", "/* open", "ALTER TABLE", "\x00", "é", "", ";;", "\ufeff"]

statement = st.one_of(
    st.builds(lambda template, t, c, n, ty: template.format(t=t, c=c, n=n, ty=ty),
              st.sampled_from(TEMPLATES), st.sampled_from(TABLES), st.sampled_from(COLUMNS),
              st.sampled_from(NAMES), st.sampled_from(TYPES)),
    st.sampled_from(GARBAGE),
    st.text(max_size=40),
)
migration = st.lists(statement, max_size=10).flatmap(
    lambda parts: st.sampled_from([";\n", ";", "\n", "; -- c\n"]).map(lambda sep: sep.join(parts)))

RULES = set(rules_by_code())


def _assert_well_formed_findings(findings, text: str) -> None:
    lines = text.count("\n") + 1
    for finding in findings:
        assert finding.rule in RULES, finding
        assert finding.severity in SEVERITIES, finding
        assert isinstance(finding.message, str) and finding.message.strip(), finding
        assert 1 <= finding.line <= finding.end_line <= lines + 1, (finding, lines)
        assert finding.column >= 1 and finding.statement_index >= -1, finding
        finding.to_dict()  # JSON-ready
        finding.location()


@FUZZ
@given(migration)
def test_lint_never_crashes_and_findings_are_well_formed(text: str) -> None:
    _assert_well_formed_findings(lint_text(text, "fuzz.sql"), text)


@FUZZ
@given(st.binary(max_size=120).map(lambda b: b.decode("utf-8", "replace")))
def test_lint_never_crashes_on_arbitrary_text(text: str) -> None:
    _assert_well_formed_findings(lint_text(text, "fuzz.sql"), text)


@pytest.fixture(scope="module")
def snapshot(module_db_url: str) -> SchemaSnapshot:
    """One real catalog snapshot of a small database with hostile names (taken once)."""
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute("CREATE TYPE mood AS ENUM ('a', 'b')")
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, sku text, qty int, mood mood)")
        conn.execute("ALTER TABLE items ADD CONSTRAINT items_qty_check CHECK (qty > 0) NOT VALID")
        conn.execute("CREATE UNIQUE INDEX items_sku_idx ON items (sku)")
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(HOSTILE_SCHEMA)))
        conn.execute(sql.SQL("CREATE TABLE {}.items (id int)").format(sql.Identifier(HOSTILE_SCHEMA)))
        for table in HOSTILE_TABLES:
            conn.execute(sql.SQL('CREATE TABLE {} ({} int, "ünïcode col" text, "select" text)').format(
                sql.Identifier(table), sql.Identifier('a"b')))
            conn.execute(sql.SQL('CREATE INDEX ON {} ("select")').format(sql.Identifier(table)))
        return load_catalog(conn, ["public", HOSTILE_SCHEMA])


@FUZZ
@given(migration, st.one_of(st.none(), st.text(max_size=60),
                            st.sampled_from(["statement 2 (line 2) failed (SQLSTATE 23505)",
                                             'relation "items" does not exist', "ERROR: 42P07"])))
def test_diagnosis_never_crashes_and_verdicts_are_well_formed(snapshot: SchemaSnapshot, text: str, logs) -> None:
    diagnosis = diagnose_migration(text, "fuzz", snapshot, logs=logs)

    for index, verdict in enumerate(diagnosis.statements):
        assert verdict.index == index
        assert verdict.effect in set(Effect)
        assert isinstance(verdict.reason, str) and verdict.reason.strip(), verdict
        assert verdict.line >= 1
        assert verdict.text  # a lone control character (\x1f) is a statement too: a parse error
    assert diagnosis.failing_index is None or 0 <= diagnosis.failing_index < len(diagnosis.statements)
    assert isinstance(diagnosis.summary, str)
    assert sum(diagnosis.count(e) for e in Effect) == len(diagnosis.statements)


@FUZZ
@given(st.sampled_from(TABLES), st.sampled_from(COLUMNS))
def test_diagnosis_finds_existing_hostile_columns(snapshot: SchemaSnapshot, table: str, column: str) -> None:
    """A column that exists on an existing hostile table is DONE; one that does not is NOT_DONE."""
    diagnosis = diagnose_migration(f"ALTER TABLE {table} ADD COLUMN {column} text;", "one", snapshot)
    verdict = diagnosis.statements[0]
    hostile = table in [_quoted(t) for t in HOSTILE_TABLES]
    if hostile and column in ('"ünïcode col"', '"select"'):
        assert verdict.effect is Effect.DONE, verdict
    elif hostile and column == "missing_col":
        assert verdict.effect is Effect.NOT_DONE, verdict
