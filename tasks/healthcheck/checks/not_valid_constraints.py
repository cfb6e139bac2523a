"""not_valid_constraints: constraints added NOT VALID and never validated.

Problem: existing rows were never checked, so the rule may not hold for old data. Solution:
``ALTER TABLE ... VALIDATE CONSTRAINT`` (takes only a SHARE UPDATE EXCLUSIVE lock).
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.sql.identifiers import qualified_if_needed, quoted

NAME = "not_valid_constraints"


def run(ctx: CheckContext) -> Outcome:
    pending = catalog.not_valid_constraints(ctx.conn)
    if not pending:
        return Outcome("every constraint is validated", 0, "constraints")
    names = ", ".join(f"{c.name} on {qualified_if_needed(c.schema, c.table)}" for c in pending)
    suggestions = tuple(
        f'ALTER TABLE {qualified_if_needed(c.schema, c.table)} VALIDATE CONSTRAINT {quoted(c.name)};' for c in pending[:5]
    )
    return Outcome(
        f"{len(pending)} NOT VALID constraint(s): {names}", len(pending), "constraints",
        Problem("LOW", "DATABASE_HEALTH", f"{len(pending)} constraint(s) never validated in {ctx.target.name}",
                f"Constraints added NOT VALID and not validated since: {names}",
                "Rows written before the constraint was added were never checked against it.",
                suggestions),
    )


CHECK = Check(NAME, "constraints added NOT VALID and never validated", run)
