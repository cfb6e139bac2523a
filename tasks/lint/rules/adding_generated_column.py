"""Adding a stored generated column or an identity column to an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import CT, added_columns, column_constraints, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for column in added_columns(node):
        for constraint in column_constraints(column, CT.CONSTR_GENERATED, CT.CONSTR_IDENTITY):
            if constraint.contype == CT.CONSTR_GENERATED and constraint.generated_kind == "v":
                continue
            kind = "identity" if constraint.contype == CT.CONSTR_IDENTITY else "stored generated"
            yield Violation(f"{kind} column {column.colname} added to {qualified(key)} rewrites the table under an ACCESS EXCLUSIVE lock", table=key)


RULE = Rule(
    code="adding-generated-column",
    severity="error",
    category="columns",
    summary="ADD COLUMN ... GENERATED ALWAYS AS (...) STORED or GENERATED ... AS IDENTITY on an existing table.",
    problem=(
        "Both compute a value for every existing row, so PostgreSQL rewrites the whole table while "
        "holding ACCESS EXCLUSIVE: no reads or writes until it is done."
    ),
    fix=(
        "Add a plain nullable column, fill new rows with a trigger or default, backfill in batches:\n"
        "  ALTER TABLE \"Order\" ADD COLUMN \"total\" numeric;\n"
        "  CREATE TRIGGER order_total BEFORE INSERT OR UPDATE ON \"Order\" FOR EACH ROW EXECUTE FUNCTION set_total();\n"
        "  UPDATE \"Order\" SET \"total\" = price * quantity WHERE id BETWEEN 1 AND 10000; -- repeat"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)
