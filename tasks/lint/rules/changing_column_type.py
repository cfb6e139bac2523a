"""ALTER COLUMN ... TYPE that rewrites the table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_modifiers, type_name

_TEXTUAL = {"text", "varchar"}


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_AlterColumnType):
        column = cmd.def_
        new_type, new_mods = type_name(column.typeName), type_modifiers(column.typeName)
        target = f"{qualified(key)}.{cmd.name}"
        rewrite = f"ALTER COLUMN {target} TYPE {_spell(new_type, new_mods)}"
        if column.raw_default is not None:
            yield Violation(f"{rewrite} USING ... rewrites the table under an ACCESS EXCLUSIVE lock", table=key)
            continue
        types = state.context.column_types
        current = types.get((key[0], key[1], cmd.name)) if types is not None else None
        if current is not None:
            if not _binary_coercible(current.type_name, current.modifiers, new_type, new_mods):
                yield Violation(f"{rewrite} (now {_spell(current.type_name, current.modifiers)}) rewrites the table "
                                "and its indexes under an ACCESS EXCLUSIVE lock", table=key)
        elif new_type in ("text", "citext") or (new_type == "varchar" and not new_mods):
            continue
        elif new_type in ("varchar", "numeric"):
            yield Violation(
                f"{rewrite} is rewrite-free only when it widens the current type (varchar(n) to a larger n, "
                "numeric(p,s) to numeric); a narrowing rewrites the table (lint with --database-url to know)",
                severity="info",
            )
        else:
            yield Violation(f"{rewrite} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock", table=key)


def _binary_coercible(old: str, old_mods: tuple[int, ...], new: str, new_mods: tuple[int, ...]) -> bool:
    """PostgreSQL's no-rewrite type changes, judged from the live old type and the new one."""
    if old == new and old_mods == new_mods:
        return True
    if old in _TEXTUAL and new == "text":
        return True
    if old in _TEXTUAL and new == "varchar":
        return not new_mods or (old == "varchar" and bool(old_mods) and new_mods[0] >= old_mods[0])
    if old == "numeric" and new == "numeric":
        if not new_mods:
            return True
        if not old_mods or len(new_mods) < 2 or len(old_mods) < 2:
            return False
        return new_mods[1] == old_mods[1] and new_mods[0] >= old_mods[0]
    if old == new == "varbit":
        return not new_mods or (bool(old_mods) and new_mods[0] >= old_mods[0])
    return False


def _spell(name: str, mods: tuple[int, ...]) -> str:
    return f"{name}({','.join(map(str, mods))})" if mods else name


RULE = Rule(
    code="changing-column-type",
    severity="error",
    category="columns",
    summary="ALTER COLUMN ... TYPE that rewrites the table (anything but a binary-coercible change).",
    problem=(
        "Changing a column's type rewrites the table and rebuilds its indexes while holding ACCESS "
        "EXCLUSIVE: no reads or writes for the duration. Only binary-coercible changes skip the rewrite "
        "(varchar(n) → text, varchar(n) → varchar(m > n), numeric(p,s) → numeric(p2 > p, s) or numeric). "
        "In live mode the current type is read from the database, so the verdict is exact."
    ),
    fix=(
        "Add a new column, backfill it in batches, switch the application, then drop the old one:\n"
        "  ALTER TABLE \"Order\" ADD COLUMN \"amount_new\" bigint;\n"
        "  UPDATE \"Order\" SET \"amount_new\" = \"amount\" WHERE id BETWEEN 1 AND 10000; -- repeat\n"
        "  -- deploy code that writes both, then read the new one, then drop \"amount\"\n"
        "For text length limits prefer text + CHECK (length(col) <= n) NOT VALID."
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)
