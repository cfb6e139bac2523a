"""The forward DDL of each statement kind: what finishes a statement the failed attempt left not
done or partly done, written so it can run now (plain logic).

A statement not done runs as written (on its own when it cannot run in a transaction); an index
build that left an INVALID index is dropped and built again; an ALTER TABLE runs only its
sub-commands not done (and validates a constraint added NOT VALID); a DROP gets IF EXISTS.
Anything else partly done is not guessed at: the forward plan stops and says why.

``debris_steps`` finishes what failures leave outside any statement's plan: INVALID indexes are
rebuilt, NOT VALID constraints a migration meant to validate are validated.
"""

from __future__ import annotations

import copy
from typing import Any

from pglast import ast, enums
from pglast.stream import RawStream

from migration_guard.tasks.diagnose.model import Effect, StatementDiagnosis
from migration_guard.tasks.recover.model import PlanStep
from migration_guard.tasks.sql.identifiers import qualified, quoted

AT = enums.AlterTableType


def redo_statement(s: StatementDiagnosis, schema: str = "public") -> tuple[list[PlanStep], str | None]:
    """The steps that finish one statement that is not (fully) done, in a form that can run now.

    Args:
        s: a remaining statement (not done, or partly done).
        schema: where unqualified names live.

    Returns:
        (steps, problem): the SQL to run, or no steps and why the statement cannot be finished
        automatically (it is partly done in a way no re-runnable form covers).
    """
    number = s.index + 1
    node = s.node
    if s.effect is Effect.NOT_DONE:
        own = not s.transactional or isinstance(node, ast.AlterEnumStmt)
        return [PlanStep(s.text, "run (not done)", not own, number)], None
    if isinstance(node, ast.IndexStmt) and s.invalid_index:
        index_schema = node.relation.schemaname or schema
        concurrently = " CONCURRENTLY" if node.concurrent else ""
        return [
            PlanStep(f"DROP INDEX{concurrently} IF EXISTS {qualified(index_schema, s.invalid_index)}",
                     "drop the INVALID index the failed build left", not node.concurrent, number),
            PlanStep(s.text, "build the index again", s.transactional, number),
        ], None
    if isinstance(node, ast.AlterTableStmt) and s.commands:
        pending, steps = [], []
        for cmd, check in zip(node.cmds, s.commands):
            if check.effect is Effect.NOT_DONE:
                pending.append(cmd)
            elif check.effect is Effect.PARTLY_DONE and cmd.subtype == AT.AT_AddConstraint and check.resolved_name \
                    and s.unvalidated_constraint:
                steps.append(PlanStep(
                    f"ALTER TABLE {qualified(node.relation.schemaname or schema, node.relation.relname)} "
                    f"VALIDATE CONSTRAINT {quoted(check.resolved_name)}",
                    "validate the constraint added NOT VALID", True, number))
            elif check.effect is not Effect.DONE:
                return [], check.reason
        if pending:
            partial = copy.deepcopy(node)
            partial.cmds = tuple(pending)
            steps.insert(0, PlanStep(RawStream()(partial), "run the sub-commands not done", True, number))
        return steps, None
    if isinstance(node, ast.DropStmt):
        rewritten = copy.deepcopy(node)
        rewritten.missing_ok = True
        return [PlanStep(RawStream()(rewritten), "drop what is still there", s.transactional, number)], None
    return [], s.reason


def debris_steps(invalid: list[Any], unvalidated: list[Any], covered_indexes: set[str]) -> list[PlanStep]:
    """Clean-up steps for failure debris not covered by a migration's own plan: rebuild INVALID
    indexes (drop, then create concurrently from their definition), validate NOT VALID constraints."""
    steps = []
    for index in invalid:
        if index.name in covered_indexes:
            continue
        definition = index.definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
        steps.append(PlanStep(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified(index.schema, index.name)}",
                              f"drop INVALID index {index.name}", False))
        steps.append(PlanStep(definition, f"rebuild index {index.name}", False))
    for constraint in unvalidated:
        steps.append(PlanStep(
            f"ALTER TABLE {qualified(constraint.schema, constraint.table)} VALIDATE CONSTRAINT {quoted(constraint.name)}",
            f"validate constraint {constraint.name}", True))
    return steps
