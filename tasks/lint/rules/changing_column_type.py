"""ALTER COLUMN ... TYPE that rewrites the table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import binary_coercible, column_type_of


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_AlterColumnType):
        column = cmd.def_
        new_type, new_mods = column_type_of(column.typeName)
        target = f"{qualified(key)}.{cmd.name}"
        rewrite = f"ALTER COLUMN {target} TYPE {_spell(new_type, new_mods)}"
        if column.raw_default is not None:
            yield Violation(f"{rewrite} USING ... rewrites the table under an ACCESS EXCLUSIVE lock", table=key)
            continue
        types = state.context.column_types
        current = types.get((key[0], key[1], cmd.name)) if types is not None else None
        if current is not None:
            if not binary_coercible(current.type_name, current.modifiers, new_type, new_mods):
                yield Violation(f"{rewrite} (now {_spell(current.type_name, current.modifiers)}) rewrites the table "
                                "and its indexes under an ACCESS EXCLUSIVE lock", table=key)
        else:
            where = "the column is not in the database" if state.context.live else "no database to read it from"
            yield Violation(
                f"{rewrite} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock unless the current "
                f"type is binary-coercible to it (e.g. varchar(n) to text); the current type is unknown ({where}): "
                "lint with --database-url to know", table=key,
            )


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
        "(varchar(n) → text, varchar(n) → varchar(m > n), numeric(p,s) → numeric(p2 > p, s) or numeric, "
        "timestamp(p) → timestamp(p2 > p)); int → bigint, int → numeric, json → jsonb, char(n) → text, "
        "enum → text all rewrite. In live mode the current type is read from the database, so the verdict is "
        "exact; without a database the current type is unknown and every type change counts as a rewrite."
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
