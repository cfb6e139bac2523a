"""invalid_indexes: indexes left INVALID, typically by a failed CREATE INDEX CONCURRENTLY.

Problem: an invalid index is maintained on every write but never used by queries, and a unique one
does not enforce uniqueness. Solution: drop it and build it again concurrently (or REINDEX it).
Indexes being built right now are skipped (they are invalid until the build ends).
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.healthcheck.base import Check, CheckContext, Outcome, Problem, quote_literal_ident

NAME = "invalid_indexes"


def run(ctx: CheckContext) -> Outcome:
    building = catalog.indexes_being_built(ctx.conn)
    debris = [i for i in catalog.invalid_indexes(ctx.conn) if (i.schema, i.name) not in building]
    if not debris:
        return Outcome("no invalid indexes", 0, "indexes")
    suggestions = []
    for index in debris[:5]:
        qualified = quote_literal_ident(index.schema, index.name)
        suggestions.append(f"REINDEX INDEX CONCURRENTLY {qualified};")
        suggestions.append(f"DROP INDEX CONCURRENTLY {qualified};   then re-create it: "
                           f"{index.definition.replace('CREATE INDEX', 'CREATE INDEX CONCURRENTLY', 1).replace('CREATE UNIQUE INDEX', 'CREATE UNIQUE INDEX CONCURRENTLY', 1)};")
    names = ", ".join(quote_literal_ident(i.schema, i.name) for i in debris)
    return Outcome(
        f"{len(debris)} invalid index(es): {names}", len(debris), "indexes",
        Problem("MEDIUM", "DATABASE_HEALTH", f"{len(debris)} invalid index(es) in {ctx.target.name}",
                f"Invalid indexes (left by a failed CREATE INDEX CONCURRENTLY?): {names}",
                "Writes pay for these indexes but queries cannot use them; a unique one enforces nothing.",
                tuple(suggestions)),
    )


CHECK = Check(NAME, "indexes left INVALID by a failed concurrent build", run)
