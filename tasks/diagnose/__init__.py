"""Diagnose a failed migration statement by statement: done / not_done / partly_done / unknown.

Entry points:
    diagnose_migration(sql, name, snapshot, schema=..., logs=...) -> Diagnosis   (plain logic)
    load_catalog(conn, schemas) -> SchemaSnapshot   (batched: one query per object kind)

Modules: ``catalog`` (the snapshot the diagnosis reads), ``migration`` (the whole migration),
``effects`` (one statement vs the snapshot), ``infer`` (order rules), ``logs`` (the failing
statement the ledger's logs name), ``types`` (``format_type`` spellings), ``model`` (the data).
"""

from migration_guard.tasks.diagnose.catalog import load_catalog
from migration_guard.tasks.diagnose.effects import EffectChecker
from migration_guard.tasks.diagnose.infer import infer_from_order
from migration_guard.tasks.diagnose.migration import diagnose_migration
from migration_guard.tasks.diagnose.model import CommandCheck, Diagnosis, Effect, StatementDiagnosis

__all__ = ["CommandCheck", "Diagnosis", "Effect", "EffectChecker", "StatementDiagnosis", "diagnose_migration",
           "infer_from_order", "load_catalog"]
