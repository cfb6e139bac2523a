"""invalid_indexes: indexes left INVALID, typically by a failed CREATE INDEX CONCURRENTLY.

Problem: an invalid index is maintained on every write but never used by queries, and a unique one
does not enforce uniqueness. Solution: drop it and build it again concurrently (or REINDEX it).

Judgement (the validate suite's ``invalid-indexes`` reads the same probe and judges differently,
see ``tasks/checks``): an index being built right now is skipped — it is invalid until its build
ends, so alerting on it would page for every healthy CREATE INDEX CONCURRENTLY, and suggesting a
REINDEX or DROP would break that build. Debris is MEDIUM (WARNING): writes pay for it, nothing is down.
"""

from __future__ import annotations

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.checks.fixes import (
    create_index_concurrently,
    drop_index_concurrently,
    reindex_index_concurrently,
)
from migration_guard.tasks.catalog import invalid_indexes
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.sql.identifiers import qualified_if_needed

NAME = "invalid_indexes"


def run(ctx: CheckContext) -> Outcome:
    debris = [i for i in invalid_indexes(ctx.conn) if not i.being_built]
    if not debris:
        return Outcome("no invalid indexes", 0, "indexes")
    suggestions = []
    for index in debris[:5]:
        qualified = qualified_if_needed(index.schema, index.name)
        suggestions.append(reindex_index_concurrently(qualified))
        # two statements on one line: psql sends each on its own, as CONCURRENTLY needs
        suggestions.append(f"{drop_index_concurrently(qualified)} {create_index_concurrently(index.definition)}")
    names = ", ".join(qualified_if_needed(i.schema, i.name) for i in debris)
    return Outcome(
        f"{len(debris)} invalid index(es): {names}", len(debris), "indexes",
        Problem("MEDIUM", "DATABASE_HEALTH", f"{len(debris)} invalid index(es) in {ctx.target.name}",
                f"Invalid indexes (left by a failed CREATE INDEX CONCURRENTLY?): {names}",
                "Writes pay for these indexes but queries cannot use them; a unique one enforces nothing.",
                tuple(suggestions)),
    )


CHECK = Check(NAME, "indexes left INVALID by a failed concurrent build", run)
