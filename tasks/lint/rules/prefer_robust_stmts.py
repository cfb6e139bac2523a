"""DDL that fails when re-run, in a file that runs statement by statement (no transaction around it)."""

from pglast import ast, enums

from migration_guard.tasks.lint.registry import Rule, Violation

AT = enums.AlterTableType
_TEMPORARY = "t"
_NOT_EXISTS = "fails on a re-run with 'already exists': add IF NOT EXISTS"
_EXISTS = "fails on a re-run with 'does not exist': add IF EXISTS"
_WRAP = "fails on a re-run (it has no IF [NOT] EXISTS form): wrap the file in BEGIN ... COMMIT"


def check(statement, state):
    if not _runs_statement_by_statement(state):
        return
    node = statement.node
    for problem in _rerun_failures(node, _constraints_dropped_before(state, statement.index)):
        yield Violation(f"{problem}; the file runs without a transaction, so if a later statement fails, this one "
                        "stays applied and the re-run stops here")


def _runs_statement_by_statement(state) -> bool:
    """Each statement commits on its own: not in BEGIN/COMMIT, not a Prisma one-query file, not migration-guard's
    own runner (which runs a file in one transaction, or resumes it step by step), and more than one statement."""
    if state.nested is not None or state.in_transaction or state.context.tool == "sql":
        return False
    if "robust_statements" not in state.memo:  # once per file: rules run for every statement
        state.memo["robust_statements"] = sum(1 for s in state.statements if s.node is not None)
    return state.memo["robust_statements"] > 1


def _rerun_failures(node, dropped: set[str]) -> list[str]:
    """What in the statement fails when the statement runs a second time."""
    if isinstance(node, ast.CreateStmt):
        if node.if_not_exists or node.relation.relpersistence == _TEMPORARY:
            return []
        return [f"CREATE TABLE {node.relation.relname} {_NOT_EXISTS}"]
    if isinstance(node, ast.CreateTableAsStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        if node.if_not_exists or node.into.rel.relpersistence == _TEMPORARY:
            return []
        return [f"CREATE TABLE {node.into.rel.relname} AS {_NOT_EXISTS}"]
    if isinstance(node, ast.IndexStmt) and not node.concurrent:  # CONCURRENTLY: require-if-exists-for-non-transactional
        if node.if_not_exists:
            return []
        if not node.idxname:
            return [("CREATE INDEX without a name never fails on a re-run: it silently builds a duplicate index "
                     "(PostgreSQL picks a new name); name it and add IF NOT EXISTS")]
        return [f"CREATE INDEX {node.idxname} {_NOT_EXISTS}"]
    if isinstance(node, (ast.CreateSeqStmt, ast.CreateSchemaStmt, ast.CreateExtensionStmt)) and not node.if_not_exists:
        kind = {ast.CreateSeqStmt: "SEQUENCE", ast.CreateSchemaStmt: "SCHEMA", ast.CreateExtensionStmt: "EXTENSION"}[type(node)]
        return [f"CREATE {kind} {_NOT_EXISTS}"]
    if isinstance(node, ast.CreateEnumStmt):
        return [f"CREATE TYPE ... AS ENUM {_WRAP}"]
    if isinstance(node, ast.DropStmt) and not node.concurrent and not node.missing_ok:
        kind = node.removeType.name.removeprefix("OBJECT_").replace("_", " ").replace("MATVIEW", "MATERIALIZED VIEW")
        return [f"DROP {kind} {_EXISTS}"]
    if isinstance(node, ast.RenameStmt):
        return [f"RENAME {_WRAP}"]
    if isinstance(node, ast.AlterTableStmt):
        return [problem for cmd in node.cmds or () if isinstance(cmd, ast.AlterTableCmd)
                for problem in _alter_failures(cmd, dropped)]
    return []


def _alter_failures(cmd: ast.AlterTableCmd, dropped: set[str]) -> list[str]:
    if cmd.subtype == AT.AT_AddColumn and not cmd.missing_ok:
        return [f"ADD COLUMN {getattr(cmd.def_, 'colname', None) or '?'} {_NOT_EXISTS}"]
    if cmd.subtype == AT.AT_DropColumn and not cmd.missing_ok:
        return [f"DROP COLUMN {cmd.name} {_EXISTS}"]
    if cmd.subtype == AT.AT_DropConstraint and not cmd.missing_ok:
        return [f"DROP CONSTRAINT {cmd.name} {_EXISTS}"]
    if cmd.subtype == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
        name = cmd.def_.conname
        if not name:
            return [("ADD CONSTRAINT without a name never fails on a re-run: it adds a second, duplicate constraint "
                     "(PostgreSQL picks a new name); name it")]
        if name in dropped:
            return []
        return [(f"ADD CONSTRAINT {name} fails on a re-run with 'already exists' (it has no IF NOT EXISTS): drop it "
                 "first with DROP CONSTRAINT IF EXISTS, or wrap the file in BEGIN ... COMMIT")]
    return []


def _constraints_dropped_before(state, index: int) -> set[str]:
    """Constraint names the file drops with IF EXISTS before statement ``index`` (re-adding them is re-runnable)."""
    if "robust_drops" not in state.memo:  # once per file: (statement index, name) of each such drop
        state.memo["robust_drops"] = [
            (statement.index, cmd.name) for statement in state.statements
            if isinstance(statement.node, ast.AlterTableStmt)
            for cmd in statement.node.cmds or ()
            if isinstance(cmd, ast.AlterTableCmd) and cmd.subtype == AT.AT_DropConstraint and cmd.missing_ok]
    return {name for at, name in state.memo["robust_drops"] if at < index}


RULE = Rule(
    code="prefer-robust-stmts",
    severity="warning",
    category="robustness",
    summary="DDL that fails when re-run, in a file run statement by statement (no transaction).",
    problem=(
        "Run without a transaction (psql -f, most plain-SQL runners), every statement commits on its own. When a "
        "later statement fails, the earlier ones stay applied, and re-running the file stops at the first of "
        "them ('already exists' / 'does not exist'): someone has to finish the migration by hand. Prisma "
        "(one query per file), migration-guard migrate (one transaction, or step by step with resume) and files "
        "wrapped in BEGIN/COMMIT are not affected; neither are single-statement files."
    ),
    fix=(
        "Wrap the file in one transaction, so a failure rolls all of it back:\n"
        "  BEGIN;\n  ALTER TABLE \"User\" ADD COLUMN \"bio\" text;\n"
        "  CREATE INDEX \"User_bio_idx\" ON \"User\" (\"bio\");\n  COMMIT;\n"
        "or make every statement re-runnable:\n"
        "  ALTER TABLE \"User\" ADD COLUMN IF NOT EXISTS \"bio\" text;\n"
        "  CREATE INDEX IF NOT EXISTS \"User_bio_idx\" ON \"User\" (\"bio\");\n"
        "  ALTER TABLE \"User\" DROP CONSTRAINT IF EXISTS \"User_bio_key\";\n"
        "  ALTER TABLE \"User\" ADD CONSTRAINT \"User_bio_key\" UNIQUE (\"bio\");\n"
        "If `migration-guard migrate` runs these files, it wraps each in a transaction: lint them with "
        "MIGRATION_TOOL=sql (or without a PATH, as the project's pending migrations) and this is not reported."
    ),
    nodes=(ast.CreateStmt, ast.CreateTableAsStmt, ast.IndexStmt, ast.CreateSeqStmt, ast.CreateSchemaStmt,
           ast.CreateExtensionStmt, ast.CreateEnumStmt, ast.DropStmt, ast.RenameStmt, ast.AlterTableStmt),
    check=check,
)
