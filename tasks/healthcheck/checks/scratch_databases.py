"""scratch_databases: migration-guard's own scratch databases (``mg_shadow_*``, ``mg_verify_*``) left
on the server by a creator that is gone (killed, or the server restarted mid-check).

Problem: each leftover holds disk (a half-restored verify database can be as large as the backup).
Solution: ``migration-guard maintenance`` drops them (as does the next backup restore check or drift
check); the healthcheck only reports (LOW). Databases in use or whose creator is alive are not listed.
"""

from __future__ import annotations

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.scratch import find_scratch_databases
from migration_guard.tasks.sql.identifiers import quoted

NAME = "scratch_databases"


def run(ctx: CheckContext) -> Outcome:
    leftovers = [d for d in find_scratch_databases(ctx.conn) if d.gone]
    if not leftovers:
        return Outcome("no leftover scratch databases", 0, "databases")
    size = sum(d.size_bytes for d in leftovers)
    return Outcome(
        f"{len(leftovers)} leftover scratch database(s), {size / 1e6:.1f} MB: "
        + ", ".join(d.name for d in leftovers[:3]) + (" …" if len(leftovers) > 3 else ""), len(leftovers), "databases",
        Problem("LOW", "DATABASE_HEALTH", f"{len(leftovers)} leftover migration-guard scratch database(s) on "
                f"{ctx.target.name}",
                "Scratch databases whose creator is gone:\n" + "\n".join(f"- {d.describe()}" for d in leftovers),
                f"They hold {size / 1e6:.1f} MB of disk; nothing uses them.",
                ("migration-guard maintenance   # drops them",
                 *(f"DROP DATABASE IF EXISTS {quoted(d.name)};" for d in leftovers[:5])),
                key=",".join(sorted(d.name for d in leftovers))),
    )


CHECK = Check(NAME, "migration-guard scratch databases (mg_shadow_*, mg_verify_*) left by a creator that is gone", run)
