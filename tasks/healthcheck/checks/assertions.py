"""assertion:<name>: a configured SQL query returning one number, compared with a threshold.

The comparison states what must hold (``count == 0``); when it does not, the entry's severity,
message and suggestions become the alert.
"""

from __future__ import annotations

import operator
from decimal import Decimal

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.healthcheck.config import Assertion

PREFIX = "assertion:"
_OPERATORS = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
              ">=": operator.ge, ">": operator.gt}


def make_check(entry: Assertion) -> Check:
    """The registered check for one configured assertion."""

    def run(ctx: CheckContext) -> Outcome:
        row = ctx.conn.execute(entry.query).fetchone()
        return evaluate(entry, row[0] if row else None, ctx.target.name)

    return Check(PREFIX + entry.name, f"assertion {entry.name}: ({entry.query}) {entry.comparison} {entry.threshold:g}", run,
                 lambda ctx: entry.database is None or entry.database == ctx.target.name)


def evaluate(entry: Assertion, value: object, database: str) -> Outcome:
    """Decide on the value the query returned — plain data."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Outcome(f"query returned {value!r}, expected one number", unknown=True)
    expected = f"{entry.comparison} {entry.threshold:g}"
    if _OPERATORS[entry.comparison](value, entry.threshold):
        return Outcome(f"{value:g} {expected}", value, None)
    return Outcome(
        f"{value:g}, expected {expected}", value, None,
        Problem(entry.severity, "BUSINESS", f"{entry.message} ({database})",
                f"{entry.message}: the query returned {value:g}, expected {expected}.\nQuery: {entry.query}",
                entry.impact, entry.suggestions or (entry.query,)),
    )
