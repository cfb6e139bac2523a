"""What the history keeps: numeric observations and pg_stat_statements counters (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

#: metric names (one per reading); a metric with subjects has one series per subject
CONNECTIONS_USED = "connections_used"          # limit: max_connections - superuser reserve
LONGEST_TRANSACTION = "longest_transaction_s"
REPLICATION_LAG = "replication_lag_s"
XID_AGE = "xid_age"                            # limit: 2^31
DATABASE_SIZE = "database_size_bytes"
DEAD_TUPLE_RATIO = "dead_tuple_ratio"          # subject: schema.table (the largest tables)
SEQUENCE_VALUE = "sequence_last_value"         # subject: schema.table.column (or schema.sequence); limit: its maximum
SEQUENCES_SCANNED = "sequences_scanned"       # a run that read every sequence (value: how many); see history.sequences
TRANSACTIONS = "transactions_total"            # a counter: xact_commit + xact_rollback of the database
STATEMENT_CALLS = "statement_calls_total"      # a counter: the calls of a pg_stat_statements snapshot's statements
CHECK_PREFIX = "check."                        # the numeric observed_value of a healthcheck check


@dataclass(frozen=True)
class Observation:
    """One numeric reading of one database at one time; ``limit`` is the value it must stay below."""

    database: str
    metric: str
    value: float
    subject: str = ""
    limit: float | None = None


class Point(NamedTuple):
    """One point of a series: when, the value, and the limit at that time. A named tuple, not a
    frozen dataclass: a run reads thousands and building these was a sixth of its history cost."""

    at: datetime
    value: float
    limit: float | None = None


@dataclass(frozen=True)
class StatementCounter:
    """pg_stat_statements' cumulative counters of one normalised query (summed over users)."""

    queryid: str
    query: str
    calls: int
    total_ms: float


@dataclass(frozen=True)
class StatementSnapshot:
    """A stored pg_stat_statements snapshot: when, why (``healthcheck`` / ``before-migration``)."""

    id: int
    at: datetime
    reason: str
    label: str = ""


BEFORE_MIGRATION = "before-migration"
HEALTHCHECK = "healthcheck"
