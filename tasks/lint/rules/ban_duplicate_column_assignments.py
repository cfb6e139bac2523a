"""The same column assigned or declared twice in one statement (PostgreSQL rejects it)."""

from collections import Counter

from pglast import ast

from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    groups: list[tuple[str, list[str]]] = []
    if isinstance(node, ast.UpdateStmt):
        groups.append(("UPDATE SET", _targets(node.targetList)))
    elif isinstance(node, ast.InsertStmt):
        groups.append(("INSERT column list", _targets(node.cols)))
        conflict = node.onConflictClause
        if conflict is not None and conflict.targetList:
            groups.append(("ON CONFLICT DO UPDATE SET", _targets(conflict.targetList)))
    elif isinstance(node, ast.MergeStmt):
        for clause in node.mergeWhenClauses or ():
            groups.append(("MERGE", _targets(getattr(clause, "targetList", None))))
    elif isinstance(node, (ast.CreateStmt, ast.CreateForeignTableStmt)):
        base = node.base if isinstance(node, ast.CreateForeignTableStmt) else node
        groups.append(("CREATE TABLE", [e.colname for e in base.tableElts or () if isinstance(e, ast.ColumnDef)]))
    elif isinstance(node, ast.ViewStmt):
        aliases = [a.sval for a in node.aliases or () if isinstance(a, ast.String)]
        groups.append(("CREATE VIEW", aliases or _output_names(node.query)))
    elif isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        groups.append(("SELECT INTO", _output_names(node)))
    for where, names in groups:
        for name in _duplicates(names):
            yield Violation(f"{where} names column {name} more than once: PostgreSQL rejects the statement")


def _targets(targets) -> list[str]:
    """Assignment targets as paths: ``a``, ``a.x``, ``a[]`` (subscripts are distinct only by value)."""
    paths = []
    for target in targets or ():
        if not isinstance(target, ast.ResTarget):
            continue
        path = target.name
        for step in target.indirection or ():
            if isinstance(step, ast.String):
                path += "." + step.sval
            else:
                path += "[" + (str(step.uidx.val.ival) if getattr(getattr(step, "uidx", None), "val", None) is not None
                               and hasattr(step.uidx.val, "ival") else "?") + "]"
        paths.append(path)
    return paths


def _output_names(select) -> list[str]:
    """The column names a SELECT produces (aliases, column names, ``?column?`` for expressions)."""
    names = []
    for target in getattr(select, "targetList", None) or ():
        if not isinstance(target, ast.ResTarget):
            continue
        if target.name:
            names.append(target.name)
        elif isinstance(target.val, ast.ColumnRef) and isinstance(target.val.fields[-1], ast.String):
            names.append(target.val.fields[-1].sval)
        elif isinstance(target.val, ast.FuncCall):
            names.append(target.val.funcname[-1].sval)
        else:
            names.append("?column?")
    return names


def _duplicates(paths: list[str]) -> list[str]:
    """Paths assigned twice, or a whole column assigned next to a part of it."""
    counts = Counter(p for p in paths if p)
    found = [p for p, n in counts.items() if n > 1]
    wholes = {p for p in counts if "." not in p and "[" not in p}
    found += sorted({p.split(".")[0].split("[")[0] for p in counts if ("." in p or "[" in p)
                     and p.split(".")[0].split("[")[0] in wholes} - set(found))
    return found


RULE = Rule(
    code="ban-duplicate-column-assignments",
    severity="error",
    category="robustness",
    summary="A column assigned (UPDATE/INSERT/ON CONFLICT/MERGE) or declared (CREATE TABLE/VIEW) twice in one statement.",
    problem=(
        "PostgreSQL rejects the statement (multiple assignments to same column / column specified more "
        "than once, SQLSTATE 42601/42701): the migration fails, and in a hand-edited UPDATE the intended "
        "value is usually the one that was meant to replace the other."
    ),
    fix="Keep one assignment per column:\n  UPDATE \"User\" SET \"name\" = 'b', \"email\" = 'x' WHERE \"id\" = 1;",
    nodes=(ast.UpdateStmt, ast.InsertStmt, ast.MergeStmt, ast.CreateStmt, ast.CreateForeignTableStmt, ast.ViewStmt,
           ast.SelectStmt),
    check=check,
)
