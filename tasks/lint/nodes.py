"""Small pglast AST helpers shared by the rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast, enums

from migration_guard.tasks.sql.tree import nodes

AT = enums.AlterTableType
CT = enums.ConstrType
OT = enums.ObjectType


_TABLE_KINDS = (OT.OBJECT_TABLE, OT.OBJECT_FOREIGN_TABLE)
_last_commands: list[Any] = [None, ()]


def alter_commands(node: Any, *subtypes: Any) -> list[ast.AlterTableCmd]:
    """The ALTER TABLE subcommands of the given subtypes (all when none given).

    Many rules ask about the same statement in a row, so the last statement's commands are kept.
    """
    if _last_commands[0] is node:
        commands = _last_commands[1]
    else:
        if not isinstance(node, ast.AlterTableStmt) or node.objtype not in _TABLE_KINDS:
            commands = ()
        else:
            commands = tuple(cmd for cmd in node.cmds or () if isinstance(cmd, ast.AlterTableCmd))
        _last_commands[0], _last_commands[1] = node, commands
    if not subtypes:
        return list(commands)
    return [cmd for cmd in commands if cmd.subtype in subtypes]


def added_constraints(node: Any) -> Iterator[ast.Constraint]:
    """Constraints added by ALTER TABLE ... ADD CONSTRAINT (and inline in ADD COLUMN)."""
    for cmd in alter_commands(node, AT.AT_AddConstraint, AT.AT_AddColumn):
        if isinstance(cmd.def_, ast.Constraint):
            yield cmd.def_
        elif isinstance(cmd.def_, ast.ColumnDef):
            for constraint in cmd.def_.constraints or ():
                if isinstance(constraint, ast.Constraint):
                    yield constraint


def added_columns(node: Any) -> Iterator[ast.ColumnDef]:
    """Column definitions added by ALTER TABLE ... ADD COLUMN."""
    for cmd in alter_commands(node, AT.AT_AddColumn):
        if isinstance(cmd.def_, ast.ColumnDef):
            yield cmd.def_


def column_constraints(column: ast.ColumnDef, *types: Any) -> list[ast.Constraint]:
    """A column definition's inline constraints of the given types."""
    return [c for c in column.constraints or () if isinstance(c, ast.Constraint) and c.contype in types]


def column_definitions(node: Any) -> Iterator[ast.ColumnDef]:
    """Every column definition of CREATE TABLE and ALTER TABLE ADD COLUMN / ALTER COLUMN TYPE."""
    if isinstance(node, ast.CreateStmt):
        for element in node.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                yield element
    elif isinstance(node, ast.AlterTableStmt):
        for cmd in alter_commands(node, AT.AT_AddColumn, AT.AT_AlterColumnType):
            if isinstance(cmd.def_, ast.ColumnDef):
                yield cmd.def_


def column_name(column: ast.ColumnDef, cmd: Any = None) -> str:
    """The column's name (ALTER COLUMN TYPE keeps it on the command)."""
    return column.colname or (cmd.name if cmd is not None else "") or "?"


def qualified(key: tuple[str, str]) -> str:
    """``schema.table`` for messages (the schema omitted when it is public)."""
    return key[1] if key[0] == "public" else f"{key[0]}.{key[1]}"


def string_constants(node: Any) -> Iterator[str]:
    """Every string constant in a tree."""
    return (item.sval for item in nodes(node) if isinstance(item, ast.String))