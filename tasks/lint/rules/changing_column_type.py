"""ALTER COLUMN ... TYPE that rewrites the table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_modifiers, type_name


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_AlterColumnType):
        column = cmd.def_
        new_type = type_name(column.typeName)
        target = f"{qualified(key)}.{cmd.name}"
        if column.raw_default is not None:
            yield Violation(f"ALTER COLUMN {target} TYPE {new_type} USING ... rewrites the table under an ACCESS EXCLUSIVE lock", table=key)
        elif new_type in ("text", "citext") or (new_type == "varchar" and not type_modifiers(column.typeName)):
            continue
        elif new_type == "varchar" or (new_type == "numeric" and not type_modifiers(column.typeName)):
            yield Violation(
                f"ALTER COLUMN {target} TYPE {new_type} is rewrite-free only when it widens the current type "
                "(varchar(n) to a larger n, numeric(p,s) to numeric); a narrowing scans or rewrites the table",
                severity="info",
            )
        else:
            yield Violation(f"ALTER COLUMN {target} TYPE {new_type} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock", table=key)


RULE = Rule(
    code="changing-column-type",
    severity="error",
    category="columns",
    summary="ALTER COLUMN ... TYPE that rewrites the table (anything but a binary-coercible change).",
    problem=(
        "Changing a column's type rewrites the table and rebuilds its indexes while holding ACCESS "
        "EXCLUSIVE: no reads or writes for the duration. Only binary-coercible changes skip the rewrite "
        "(varchar(n) → text, varchar(n) → varchar(m > n), numeric(p,s) → numeric)."
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
