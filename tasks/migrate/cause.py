"""Why a migration failed under safe-migrate, named with the rows: the same cause analysis recover
runs (``tasks/diagnose/classify.py``: the SQLSTATE, then a read-only re-check of the data the
failing statement needs against the live rows), and the advice that fits what the database holds
after the failure.

A transactional migration was rolled back: the re-check runs against the database as it is now,
which is also what the printed listing query runs against when pasted. A step-by-step migration
stopped part way: the statements before the failing one are committed and stay (the re-check sees
them), and re-running ``migrate`` resumes at the failing statement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from pglast import ast

from migration_guard.tasks.db import connection
from migration_guard.tasks.diagnose.catalog import load_catalog
from migration_guard.tasks.diagnose.cause import FailureCause
from migration_guard.tasks.diagnose.classify import DATA_KINDS, classify_failure
from migration_guard.tasks.diagnose.model import Diagnosis, Effect, StatementDiagnosis
from migration_guard.tasks.diagnose.rechecks import statement_data_kinds
from migration_guard.tasks.diagnose.replay import migration_statements
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.models import Migration
from migration_guard.tasks.project import Project
from migration_guard.tasks.sql.statements import Statement

_log = logging.getLogger("migration_guard.migrate")


@dataclass(frozen=True)
class DataFailure:
    """A migration that failed on the data in the tables, with the rows that block it.

    Attributes:
        cause: the shared analysis' cause (kind, offending row count, listing query).
        migration: the migration's name; path: its file.
        statement: the failing statement's 1-based number; line: its line in the file.
        steps_done: statements committed before the failure (0 when rolled back).
        rolled_back: True when nothing of the migration is applied (one transaction).
        new_columns: the NOT NULL columns without a DEFAULT the statement adds to a table with
            rows (then the fix is a default, or the rows), else empty; table: the statement's table.
    """

    cause: FailureCause
    migration: str
    path: str
    statement: int
    line: int
    steps_done: int
    rolled_back: bool
    table: str
    new_columns: tuple[str, ...] = ()

    @property
    def what_failed(self) -> str:
        """One sentence: which statement failed on which rows."""
        return (f"statement {self.statement} (line {self.line}) of {self.migration} failed on the data, not on its "
                f"SQL: {self.cause.summary}; {self.cause.offending_rows} row(s) block it"
                + (f" ({self.cause.detail})" if self.cause.detail else ""))

    @property
    def state(self) -> str:
        """What the database holds of the migration now."""
        if self.rolled_back:
            return f"{self.migration} was rolled back completely (nothing of it is applied)"
        if not self.steps_done:
            return f"{self.migration} stopped before its first statement committed (nothing of it is applied)"
        return f"{self.migration} stopped after {self.steps_done} statement(s), which are committed and stay"

    @property
    def rerun(self) -> str:
        """The command that continues after the fix."""
        return "migration-guard migrate" + ("" if self.rolled_back else
                                            f"   # it resumes at statement {self.steps_done + 1}")

    @property
    def advice(self) -> str:
        """What to do, fitting the state after the failure: fix the rows (or give the new column a
        DEFAULT), then re-run ``migrate`` (the command last, so it copies cleanly)."""
        columns = ", ".join(self.new_columns)
        if not self.new_columns:
            return (f"{self.state}. The cause is the data, not {self.path}: fix the {self.cause.offending_rows} "
                    f"row(s) listed below, then re-run: {self.rerun}")
        if self.rolled_back:
            return (f"{self.state}. Give {columns} a DEFAULT in {self.path} (or add it nullable, fill it, then "
                    f"SET NOT NULL), then re-run: {self.rerun}")
        return (f"{self.state}. Decide: if the {self.cause.offending_rows} row(s) of {self.table} listed below are "
                f"disposable, delete them and re-run `{self.rerun}`; else roll back what ran (`migration-guard "
                f"recover --mode rollback --yes`), give {columns} a DEFAULT in {self.path} (or add it "
                f"nullable, fill it, then SET NOT NULL) and re-run: migration-guard migrate")

    @property
    def rows(self) -> str:
        """The blocking rows: how many, and the query that lists them (last, so it copies cleanly)."""
        if self.new_columns and self.rolled_back:
            return (f"or, if the {self.cause.offending_rows} row(s) of {self.table} are disposable, delete them and "
                    f"re-run the same command; list them with: {self.cause.listing_query}")
        return f"the {self.cause.offending_rows} blocking row(s); list them with: {self.cause.listing_query}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the shared cause plus where and what to do (the report's ``cause``)."""
        return {**self.cause.to_dict(), "migration": self.migration, "line": self.line,
                "rolled_back": self.rolled_back, "steps_done": self.steps_done, "table": self.table,
                "new_columns": list(self.new_columns), "what_failed": self.what_failed, "advice": self.advice,
                "rows": self.rows}


def data_failure(project: Project, migration: Migration, failed_statement: Statement | None, sqlstate: str | None,
                 message: str, steps_done: int, rolled_back: bool) -> DataFailure | None:
    """The data cause of a failed migration with its rows, or None when the failure is not on data
    or its rows cannot be named now (the caller keeps the generic advice).

    Args:
        project: the database (only read here).
        migration: the failed migration (its file).
        failed_statement: the failing statement as safe-migrate split it.
        sqlstate / message: the database error.
        steps_done: statements committed before the failure (step by step), 0 when rolled back.
        rolled_back: True when the whole migration rolled back.
    """
    statements = migration_statements(migration.sql, migration.name)
    start = getattr(failed_statement, "start", None)
    failing = next((s for s in statements if s.start == start), None)
    if failing is None or failing.node is None:
        return None
    done = 0 if rolled_back else steps_done
    diagnosis = Diagnosis(migration=migration.name, failing_index=failing.index, failing_source="safe-migrate",
                          statements=[_statement(s, Effect.DONE if s.index < done else Effect.NOT_DONE)
                                      for s in statements])
    logs = f"{message} (SQLSTATE {sqlstate})" if sqlstate else message
    try:
        with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
            conn.autocommit = True
            snapshot = load_catalog(conn, [project.schema])
            cause = classify_failure(conn, diagnosis, snapshot, logs, schema=project.schema)
    except (MigrationGuardError, psycopg.Error) as exc:
        _log.warning("the failure's cause could not be re-checked: %s", getattr(exc, "message", exc))
        return None
    if cause.kind not in DATA_KINDS or not cause.present or not cause.listing_query \
            or cause.statement_index != failing.index:
        return None
    relation = getattr(failing.node, "relation", None)
    return DataFailure(cause, migration.name, str(migration.path), failing.index + 1, failing.line, done, rolled_back,
                       relation.relname if relation is not None else "", _new_columns(failing, cause))


def _new_columns(failing: Statement, cause: FailureCause) -> tuple[str, ...]:
    """The NOT NULL columns without a DEFAULT ``failing`` adds, when those are what the rows block
    (each sub-command judged by the re-checks' own rule, ``statement_data_kinds``)."""
    if cause.kind != "nulls" or "add_column_not_null" not in statement_data_kinds(failing.node):
        return ()
    return tuple(cmd.def_.colname for cmd in failing.node.cmds or () if isinstance(cmd.def_, ast.ColumnDef)
                 and "add_column_not_null" in statement_data_kinds(ast.AlterTableStmt(cmds=(cmd,))))


def _statement(statement: Statement, effect: Effect) -> StatementDiagnosis:
    return StatementDiagnosis(index=statement.index, line=statement.line, text=statement.text, kind=statement.kind,
                              effect=effect, reason="safe-migrate ran it" if effect is Effect.DONE else "not applied",
                              node=statement.node, transactional=statement.transactional)
