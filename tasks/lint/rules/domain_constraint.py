"""CHECK constraints on domains: ALTER DOMAIN ... ADD CONSTRAINT scans every column of the domain."""

from pglast import ast

from migration_guard.tasks.lint.nodes import CT
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    name = ".".join(n.sval for n in (node.domainname if isinstance(node, ast.CreateDomainStmt) else node.typeName) or ()
                    if isinstance(n, ast.String))
    if isinstance(node, ast.CreateDomainStmt):
        if any(isinstance(c, ast.Constraint) and c.contype == CT.CONSTR_CHECK for c in node.constraints or ()):
            yield Violation(f"domain {name} has a CHECK: changing it later validates every column of every table using it",
                            severity="info")
    elif node.subtype == "C" and isinstance(node.def_, ast.Constraint) and not node.def_.skip_validation:
        yield Violation(f"ALTER DOMAIN {name} ADD CONSTRAINT without NOT VALID scans every table that uses the domain")


RULE = Rule(
    code="domain-constraint",
    severity="error",
    category="constraints",
    summary="ALTER DOMAIN ... ADD CONSTRAINT without NOT VALID (and CHECKs on new domains, as info).",
    problem=(
        "Adding a constraint to a domain checks every column of every table declared with that domain, "
        "while holding locks on all of them; there is no per-table way to do it gradually."
    ),
    fix=(
        "Add it NOT VALID, then validate separately (validation does not block writes):\n"
        "  ALTER DOMAIN email ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%') NOT VALID;\n"
        "  ALTER DOMAIN email VALIDATE CONSTRAINT email_has_at;\n"
        "Or put CHECK constraints on the tables instead of the domain."
    ),
    nodes=(ast.CreateDomainStmt, ast.AlterDomainStmt),
    check=check,
)
