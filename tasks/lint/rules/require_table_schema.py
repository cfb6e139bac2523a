"""A table named without its schema in CREATE TABLE [AS] / ALTER TABLE / DROP TABLE (opt-in)."""

from pglast import ast, enums

from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.identifiers import qualified_if_needed, quoted_if_needed

_TEMPORARY = "t"  # RangeVar.relpersistence of TEMP / TEMPORARY tables (they live in pg_temp, no schema to name)


def check(statement, state):
    node = statement.node
    schema = state.context.default_schema
    for name in _unqualified_tables(node):
        yield Violation(f"table {quoted_if_needed(name)} is not schema-qualified: it lands in whichever schema "
                        f"comes first in search_path; write {qualified_if_needed(schema, name)}")


def _unqualified_tables(node) -> list[str]:
    """Names of the (non-temporary) tables the statement creates, alters or drops without a schema."""
    if isinstance(node, ast.CreateStmt):
        relations = [node.relation]
    elif isinstance(node, ast.CreateTableAsStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        relations = [node.into.rel]
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        relations = [node.relation]
    elif isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
        return [names[0].sval for names in node.objects or () if len(names) == 1 and isinstance(names[0], ast.String)]
    else:
        return []
    return [r.relname for r in relations if r is not None and not r.schemaname and r.relpersistence != _TEMPORARY]


RULE = Rule(
    code="require-table-schema",
    severity="warning",
    category="robustness",
    summary="CREATE / ALTER / DROP TABLE without a schema-qualified name; opt-in (LINT_ENABLE=require-table-schema).",
    problem=(
        "An unqualified table name resolves through search_path, which differs between roles, connection "
        "strings (?options=-csearch_path=...) and tools: the same migration can create the table in another "
        "schema, or alter and drop a same-named table there. Temporary tables are exempt."
    ),
    fix=(
        "Name the schema:\n"
        "  CREATE TABLE public.\"AuditLog\" (\"id\" bigint PRIMARY KEY);\n"
        "  ALTER TABLE public.\"AuditLog\" ADD COLUMN \"note\" text;"
    ),
    nodes=(ast.CreateStmt, ast.CreateTableAsStmt, ast.AlterTableStmt, ast.DropStmt),
    check=check,
    opt_in=True,
)
