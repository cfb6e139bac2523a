"""The schema snapshot model: plain, comparable data (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: (schema, name) — how tables, indexes, enums and sequences are keyed
QualifiedName = tuple[str, str]


@dataclass(frozen=True)
class ColumnInfo:
    """One column: type as ``format_type`` prints it, nullability and default expression."""

    name: str
    type: str
    nullable: bool
    default: str | None = None


@dataclass(frozen=True)
class IndexInfo:
    """One index: its table, ``pg_get_indexdef`` text, uniqueness, validity, the constraint it backs."""

    schema: str
    name: str
    table: str
    definition: str
    unique: bool
    valid: bool
    columns: tuple[str, ...] = ()
    constraint: str | None = None


@dataclass(frozen=True)
class ConstraintInfo:
    """One table constraint (p primary key, u unique, f foreign key, c check, x exclusion)."""

    schema: str
    table: str
    name: str
    type: str
    definition: str
    validated: bool
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableInfo:
    """A table and its columns (in physical order)."""

    schema: str
    name: str
    columns: dict[str, ColumnInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class SequenceInfo:
    """A sequence: its type, increment and the column that owns it, if any."""

    schema: str
    name: str
    data_type: str
    increment: int
    owned_by: str | None = None


@dataclass
class SchemaSnapshot:
    """Everything drift detection and diagnosis compare, for one or more schemas.

    Keys: tables / indexes / enums / sequences by (schema, name); constraints by
    (schema, table, name); extensions by name (database-wide); views / other relations by
    (schema, name) in ``other_relations`` with their relkind.
    """

    schemas: tuple[str, ...]
    tables: dict[QualifiedName, TableInfo] = field(default_factory=dict)
    indexes: dict[QualifiedName, IndexInfo] = field(default_factory=dict)
    constraints: dict[tuple[str, str, str], ConstraintInfo] = field(default_factory=dict)
    enums: dict[QualifiedName, tuple[str, ...]] = field(default_factory=dict)
    sequences: dict[QualifiedName, SequenceInfo] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)
    other_relations: dict[QualifiedName, str] = field(default_factory=dict)

    def column(self, schema: str, table: str, column: str) -> ColumnInfo | None:
        """The column, or None when the table or column does not exist."""
        info = self.tables.get((schema, table))
        return info.columns.get(column) if info else None

    def table_constraints(self, schema: str, table: str) -> list[ConstraintInfo]:
        """Constraints of one table."""
        return [c for (s, t, _), c in self.constraints.items() if s == schema and t == table]

    def table_indexes(self, schema: str, table: str) -> list[IndexInfo]:
        """Indexes of one table."""
        return [i for i in self.indexes.values() if i.schema == schema and i.table == table]

    def relation_exists(self, schema: str, name: str) -> bool:
        """True for any table, index, sequence, view ... of that name in that schema."""
        key = (schema, name)
        return key in self.tables or key in self.indexes or key in self.sequences or key in self.other_relations

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for artifacts and debugging)."""
        return {
            "schemas": list(self.schemas),
            "tables": {
                f"{s}.{n}": {c.name: {"type": c.type, "nullable": c.nullable, "default": c.default}
                             for c in t.columns.values()}
                for (s, n), t in sorted(self.tables.items())
            },
            "indexes": {f"{s}.{n}": {"definition": i.definition, "valid": i.valid}
                        for (s, n), i in sorted(self.indexes.items())},
            "constraints": {f"{s}.{t}.{n}": {"definition": c.definition, "validated": c.validated}
                            for (s, t, n), c in sorted(self.constraints.items())},
            "enums": {f"{s}.{n}": list(v) for (s, n), v in sorted(self.enums.items())},
            "sequences": {f"{s}.{n}": q.data_type for (s, n), q in sorted(self.sequences.items())},
            "extensions": dict(sorted(self.extensions.items())),
        }


@dataclass(frozen=True)
class Difference:
    """One way the live schema differs from the expected one.

    Attributes:
        kind: ``missing`` (expected, absent live), ``unexpected`` (live only) or ``changed``.
        object_type: table, column, index, constraint, enum, sequence, extension.
        name: qualified name (schema.table.column ...).
        expected / actual: short descriptions of each side (None when absent).
    """

    kind: str
    object_type: str
    name: str
    expected: str | None = None
    actual: str | None = None

    def describe(self) -> str:
        """One line for reports."""
        if self.kind == "missing":
            return f"{self.object_type} {self.name} is missing (expected: {self.expected})"
        if self.kind == "unexpected":
            return f"{self.object_type} {self.name} is not produced by the migrations (found: {self.actual})"
        return f"{self.object_type} {self.name} differs: expected {self.expected}, found {self.actual}"


@dataclass
class DriftReport:
    """Result of a drift check: live schema vs a shadow database built from the applied migrations."""

    checked: bool
    differences: list[Difference] = field(default_factory=list)
    applied_migrations: list[str] = field(default_factory=list)
    shadow: str = ""
    reason: str = ""
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """True when the check ran and found no difference."""
        return self.checked and not self.differences

    def to_dict(self) -> dict[str, Any]:
        """The drift report as JSON-ready data (differences described one line each)."""
        return {
            "checked": self.checked,
            "clean": self.clean,
            "differences": [d.describe() for d in self.differences],
            "applied_migrations": len(self.applied_migrations),
            "shadow": self.shadow,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }
