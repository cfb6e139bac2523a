"""ALTER COLUMN ... SET NOT NULL on an existing table (unless a validated CHECK (col IS NOT NULL)
proves it first: PostgreSQL >= 12 then skips the scan)."""

from pglast import ast, enums

from migration_guard.tasks.lint.nodes import AT, CT, added_constraints, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation

_CHECKS = "setting-not-nullable-column:checks"  # (table, constraint) → column of CHECK (col IS NOT NULL)
_VALIDATED = "setting-not-nullable-column:validated"  # (table, constraint) validated in this file


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    checks = state.memo.setdefault(_CHECKS, {})
    validated = state.memo.setdefault(_VALIDATED, set())
    for constraint in added_constraints(node):
        column = _not_null_check_column(constraint)
        if column is not None and constraint.conname:
            checks[(key, constraint.conname)] = column
    for cmd in alter_commands(node, AT.AT_ValidateConstraint):
        validated.add((key, cmd.name))
    for cmd in alter_commands(node, AT.AT_SetNotNull):
        if state.context.pg_version_num >= 120000 and _proven(key, cmd.name, checks, validated):
            continue
        yield Violation(f"SET NOT NULL on {qualified(key)}.{cmd.name} scans the whole table under an ACCESS EXCLUSIVE lock", table=key)


def _proven(key: tuple[str, str], column: str, checks: dict, validated: set) -> bool:
    """A CHECK (column IS NOT NULL) on the table was validated earlier in the file; a validated
    constraint defined in an earlier migration counts when its name names the column."""
    for table, name in validated:
        if table != key:
            continue
        known = checks.get((table, name))
        if known == column or (known is None and column.lower() in name.lower() and "null" in name.lower()):
            return True
    return False


def _not_null_check_column(constraint: ast.Constraint) -> str | None:
    """The column of ``CHECK (col IS NOT NULL)``, else None."""
    if constraint.contype != CT.CONSTR_CHECK:
        return None
    expr = constraint.raw_expr
    if isinstance(expr, ast.NullTest) and expr.nulltesttype == enums.NullTestType.IS_NOT_NULL and isinstance(expr.arg, ast.ColumnRef):
        fields = expr.arg.fields or ()
        if fields and isinstance(fields[-1], ast.String):
            return fields[-1].sval
    return None


RULE = Rule(
    code="setting-not-nullable-column",
    severity="error",
    category="columns",
    summary="ALTER COLUMN ... SET NOT NULL on an existing table.",
    problem=(
        "SET NOT NULL checks every row while holding ACCESS EXCLUSIVE (no reads, no writes), and fails "
        "the migration if one row is NULL."
    ),
    fix=(
        "Prove it with a validated CHECK first; PostgreSQL >= 12 then skips the scan:\n"
        "  ALTER TABLE \"User\" ADD CONSTRAINT \"User_name_not_null\" CHECK (\"name\" IS NOT NULL) NOT VALID;\n"
        "  ALTER TABLE \"User\" VALIDATE CONSTRAINT \"User_name_not_null\";\n"
        "  ALTER TABLE \"User\" ALTER COLUMN \"name\" SET NOT NULL;\n"
        "  ALTER TABLE \"User\" DROP CONSTRAINT \"User_name_not_null\";"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)
