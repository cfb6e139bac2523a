"""Compare two schema snapshots: what is missing, unexpected, or different (plain logic)."""

from __future__ import annotations

from migration_guard.tasks.schema.model import ColumnInfo, Difference, SchemaSnapshot


def compare_snapshots(expected: SchemaSnapshot, actual: SchemaSnapshot) -> list[Difference]:
    """Every difference between the expected schema (e.g. a shadow database built from the
    applied migrations) and the actual one (the live database), sorted by object.

    Column order is ignored (a re-added column lands at the end); index and constraint
    definitions are compared as PostgreSQL prints them, plus index validity and constraint
    validation state.
    """
    differences: list[Difference] = []
    _compare_tables(expected, actual, differences)
    _compare_keyed(
        "index", {_dotted(k): f"{v.definition}{'' if v.valid else ' INVALID'}" for k, v in expected.indexes.items()},
        {_dotted(k): f"{v.definition}{'' if v.valid else ' INVALID'}" for k, v in actual.indexes.items()},
        differences,
    )
    _compare_keyed(
        "constraint",
        {_dotted(k): f"{v.definition}{'' if v.validated else ' (NOT VALID)'}" for k, v in expected.constraints.items()},
        {_dotted(k): f"{v.definition}{'' if v.validated else ' (NOT VALID)'}" for k, v in actual.constraints.items()},
        differences,
    )
    _compare_keyed("enum", {_dotted(k): ", ".join(v) for k, v in expected.enums.items()},
                   {_dotted(k): ", ".join(v) for k, v in actual.enums.items()}, differences)
    _compare_keyed(
        "sequence", {_dotted(k): f"{v.data_type} increment {v.increment}" for k, v in expected.sequences.items()},
        {_dotted(k): f"{v.data_type} increment {v.increment}" for k, v in actual.sequences.items()}, differences,
    )
    _compare_keyed(
        "extension", {k: k for k in expected.extensions}, {k: k for k in actual.extensions}, differences
    )
    _compare_keyed("relation", {_dotted(k): v for k, v in expected.other_relations.items()},
                   {_dotted(k): v for k, v in actual.other_relations.items()}, differences)
    return sorted(differences, key=lambda d: (d.object_type, d.name, d.kind))


def _compare_tables(expected: SchemaSnapshot, actual: SchemaSnapshot, out: list[Difference]) -> None:
    for key, table in expected.tables.items():
        live = actual.tables.get(key)
        name = _dotted(key)
        if live is None:
            out.append(Difference("missing", "table", name, f"{len(table.columns)} columns", None))
            continue
        for column in table.columns.values():
            found = live.columns.get(column.name)
            if found is None:
                out.append(Difference("missing", "column", f"{name}.{column.name}", _column(column), None))
            elif _column(found) != _column(column):
                out.append(Difference("changed", "column", f"{name}.{column.name}", _column(column), _column(found)))
        for column in live.columns.values():
            if column.name not in table.columns:
                out.append(Difference("unexpected", "column", f"{name}.{column.name}", None, _column(column)))
    for key, table in actual.tables.items():
        if key not in expected.tables:
            out.append(Difference("unexpected", "table", _dotted(key), None, f"{len(table.columns)} columns"))


def _compare_keyed(kind: str, expected: dict[str, str], actual: dict[str, str], out: list[Difference]) -> None:
    for name, value in expected.items():
        if name not in actual:
            out.append(Difference("missing", kind, name, value, None))
        elif actual[name] != value:
            out.append(Difference("changed", kind, name, value, actual[name]))
    for name, value in actual.items():
        if name not in expected:
            out.append(Difference("unexpected", kind, name, None, value))


def _column(column: ColumnInfo) -> str:
    text = column.type + ("" if column.nullable else " NOT NULL")
    return text + (f" DEFAULT {column.default}" if column.default is not None else "")


def _dotted(key: tuple[str, ...]) -> str:
    return ".".join(key)
