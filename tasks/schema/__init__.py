"""Schema snapshots and drift: what the database looks like, and how it differs from what the
applied migrations produce.

Public API (used by recover, safe-migrate, the demo):
    snapshot_schema(conn, schemas) -> SchemaSnapshot
    compare_snapshots(expected, actual) -> list[Difference]
    check_drift(project) -> DriftReport
"""

from migration_guard.tasks.schema.compare import compare_snapshots
from migration_guard.tasks.schema.drift import check_drift
from migration_guard.tasks.schema.model import (
    ColumnInfo,
    ConstraintInfo,
    Difference,
    DriftReport,
    IndexInfo,
    SchemaSnapshot,
    SequenceInfo,
    TableInfo,
)
from migration_guard.tasks.schema.shadow import ShadowDatabaseError, apply_migrations
from migration_guard.tasks.schema.snapshot import snapshot_schema

__all__ = [
    "ColumnInfo", "ConstraintInfo", "Difference", "DriftReport", "IndexInfo", "SchemaSnapshot",
    "SequenceInfo", "ShadowDatabaseError", "TableInfo", "apply_migrations", "check_drift",
    "compare_snapshots", "snapshot_schema",
]
