"""The lint engine: split, parse, run the rules on every statement (and the SQL inside DO blocks and
functions), apply suppressions, live table sizes and the configuration; return findings as data.

Entry points: :func:`lint_text` (one file), :func:`lint_migrations` (pending migrations, optionally
against the live database), :func:`has_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from migration_guard.tasks.lint.config import LintConfig
from migration_guard.tasks.lint.context import LintContext, describe_size, size_class
from migration_guard.tasks.lint.fastparse import unvalidated_nodes
from migration_guard.tasks.lint.findings import Finding, has_errors, sort_key
from migration_guard.tasks.lint.plpgsql import EmbeddedParseError, embedded_sql
from migration_guard.tasks.lint.registry import Rule, Violation, get_rule, rules_by_node
from migration_guard.tasks.lint.suppressions import Suppression, acknowledgement_comment, parse_directives
from migration_guard.tasks.sql.locks import name_key
from migration_guard.tasks.sql.statements import SourceText, Statement, split_statements

if TYPE_CHECKING:
    import psycopg

    from migration_guard.tasks.models import Migration

__all__ = ["FileState", "has_errors", "lint_migrations", "lint_statements", "lint_text", "prepare"]

_SIZE_SEVERITY = {"small": "info", "medium": "warning", "large": "error"}


@dataclass
class FileState:
    """What rules may look at besides the statement: the file, the run's context, the position.

    Attributes:
        path: the file.
        statements: every statement of the file (rules may look ahead or back).
        context: the run's :class:`LintContext` (new tables, live stats, tool).
        transaction_depth: explicit BEGIN blocks open before the current statement.
        implicit_transaction: the whole file runs as one transaction (Prisma sends it as one query).
        nested: None at top level, else ``DO block`` / ``function name`` for embedded SQL.
        executed: False inside function bodies (they run when called, not during the migration).
        enum_values_added: (type name, value) pairs added by ALTER TYPE ... ADD VALUE and not committed yet.
        memo: per-file scratch space for rules that look at the whole file once.
    """

    path: str
    statements: list[Statement]
    context: LintContext
    transaction_depth: int = 0
    implicit_transaction: bool = False
    nested: str | None = None
    executed: bool = True
    enum_values_added: list[tuple[str, str]] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)

    def key(self, relation: Any) -> tuple[str, str]:
        """(schema, table) of a RangeVar."""
        return self.context.key(relation)

    def is_new(self, key: tuple[str, str]) -> bool:
        """True when the table was created earlier in this run (empty, no lock problem)."""
        return self.context.is_new(key)

    def existing(self, relation: Any) -> tuple[str, str] | None:
        """The (schema, table) key when the table already exists (not created in this run), else None."""
        key = self.context.key(relation)
        return None if key in self.context.new_tables else key

    @property
    def in_transaction(self) -> bool:
        """The current statement runs inside a transaction block (explicit or the file's implicit one)."""
        return self.transaction_depth > 0 or self.implicit_transaction


def lint_text(
    text: str, path: str = "<sql>", *, context: LintContext | None = None, config: LintConfig | None = None
) -> list[Finding]:
    """Lint one migration's SQL text.

    Args:
        text: the SQL (decoded).
        path: shown in findings.
        context: shared run state (new tables, live stats); a fresh static one by default.
        config: disabled rules and severity overrides.

    Returns:
        Findings sorted by position; never raises on bad SQL (parse errors are findings).
    """
    context = context if context is not None else LintContext()
    invalid = _invalid_input(text, path)
    if invalid is not None:
        return (config or LintConfig()).apply([invalid])
    with unvalidated_nodes():
        return lint_statements(_split(text, path), text, path, context=context, config=config)


def prepare(text: str, path: str) -> list[Statement] | Finding:
    """The statements of ``text``, or an ``invalid-input`` finding (binary content)."""
    invalid = _invalid_input(text, path)
    return invalid if invalid is not None else _split(text, path)


def _split(text: str, path: str) -> list[Statement]:
    with unvalidated_nodes():
        return split_statements(text, path)


def lint_migrations(
    migrations: Sequence[Migration],
    *,
    conn: psycopg.Connection | None = None,
    config: LintConfig | None = None,
    context: LintContext | None = None,
) -> list[Finding]:
    """Lint pending migrations in apply order; tables created by an earlier one count as new.

    With ``conn`` (live mode) the row estimates and sizes of every table the statements touch are
    read in one query (``catalog.table_stats``) and blocking findings are re-levelled by size.

    Raises:
        DatabaseError: live mode and the catalog cannot be read (classified).
    """
    from migration_guard.tasks.sql.locks import tables_touched

    context = context if context is not None else LintContext()
    with unvalidated_nodes():
        prepared = [(m, prepare(m.sql, str(m.path))) for m in migrations]
    if conn is not None:
        tables: dict[tuple[str, str], None] = {}
        for _, statements in prepared:
            if isinstance(statements, list):
                for statement in statements:
                    for key in tables_touched(statement, context.default_schema):
                        tables.setdefault(key, None)
        (context.table_stats, context.column_types, context.server_version_num,
         context.has_rows, functions) = _read_catalog(conn, list(tables))
        context.nonvolatile_functions |= functions
    with unvalidated_nodes():
        return _lint_prepared(prepared, context, config)


def _lint_prepared(prepared: list, context: LintContext, config: LintConfig | None) -> list[Finding]:
    findings: list[Finding] = []
    for migration, statements in prepared:
        if isinstance(statements, Finding):
            findings.extend((config or LintConfig()).apply([statements]))
            continue
        if context.tool is None and migration.path.name == "migration.sql":
            context.tool = "prisma"
        findings.extend(lint_statements(statements, migration.sql, str(migration.path), context=context, config=config))
    return findings


def _read_catalog(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> tuple[dict, dict, int, dict, set]:
    """Stats (estimates corrected for stale statistics), column types, server version, the exact
    emptiness of tables whose estimate is zero (see :mod:`probes`), non-volatile user functions."""
    import psycopg

    from migration_guard.tasks.catalog import column_types, server_version_num, table_stats
    from migration_guard.tasks.db import classify_error
    from migration_guard.tasks.lint.probes import probe_emptiness, refine_estimates

    try:
        stats = refine_estimates(conn, table_stats(conn, tables))
        return (stats, column_types(conn, tables), server_version_num(conn), probe_emptiness(conn, stats),
                _nonvolatile_user_functions(conn))
    except psycopg.Error as exc:
        raise classify_error(exc, "") from None


def _nonvolatile_user_functions(conn: psycopg.Connection) -> set[str]:
    """Names (and schema.name) of functions outside pg_catalog whose every overload is IMMUTABLE or STABLE."""
    rows = conn.execute(
        "SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') GROUP BY n.nspname, p.proname "
        "HAVING bool_and(p.provolatile IN ('i', 's'))"
    ).fetchall()
    return {r[1] for r in rows} | {f"{r[0]}.{r[1]}" for r in rows}


def lint_statements(
    statements: list[Statement], text: str, path: str, *, context: LintContext | None = None,
    config: LintConfig | None = None,
) -> list[Finding]:
    """Lint already split statements of one file (see :func:`lint_text`)."""
    context = context if context is not None else LintContext()
    source = SourceText(text, path)
    state = FileState(
        path=path, statements=statements, context=context,
        implicit_transaction=context.tool == "prisma" and len(statements) > 1,
    )
    findings: list[Finding] = []
    file_rules, statement_rules, directives = _suppressions(statements, text)
    for statement in statements:
        if statement.error is not None:
            findings.append(_syntax_error(statement, path))
            continue
        findings.extend(_check_statement(statement, state, statement))
        findings.extend(_check_embedded(statement, state))
        _track_effects(statement.node, state)
    findings.extend(_unknown_suppressions(directives, source, path))
    findings = [
        f for f in findings
        if f.rule not in file_rules and f.rule not in statement_rules.get(f.statement_index, ())
    ]
    findings = _with_acknowledgements((config or LintConfig()).apply(findings))
    findings.sort(key=sort_key)
    return findings


def _with_acknowledgements(findings: list[Finding]) -> list[Finding]:
    """Blocking (error) findings of policy rules carry the exact comment that acknowledges them."""
    result = []
    for finding in findings:
        rule = get_rule(finding.rule)
        if rule is None or not rule.policy or finding.severity != "error" or finding.statement_index < 0:
            result.append(finding)
            continue
        comment = acknowledgement_comment(rule.code)
        fix = (f"{finding.fix}\nIntended? Acknowledge it: put this line directly above the statement at "
               f"{finding.location()}, then re-run:\n  {comment}")
        result.append(replace(finding, fix=fix, acknowledgement=comment))
    return result


def _check_statement(statement: Statement, state: FileState, anchor: Statement, prefix: str = "") -> list[Finding]:
    table = rules_by_node()
    rules = table.get(type(statement.node), ()) + table.get(ast.Node, ())
    findings = []
    for rule in rules:
        for violation in rule.check(statement, state):
            findings.append(_finding(rule, violation, state, anchor, prefix))
    return findings


def _finding(rule: Rule, violation: Violation, state: FileState, anchor: Statement, prefix: str) -> Finding:
    severity = violation.severity or rule.severity
    message = violation.message
    if rule.blocking and violation.table is not None and state.context.live:
        stats = state.context.stats_for(violation.table)
        if stats is not None:
            severity = _SIZE_SEVERITY[size_class(stats, state.context.has_rows.get(violation.table))]
            described = describe_size(stats, state.context.has_rows.get(violation.table))
            message = f"{message} ({violation.table[0]}.{violation.table[1]}: {described})"
    if not state.executed and severity == "error":
        severity = "warning"
    return Finding(
        rule=rule.code, severity=severity, message=prefix + message, path=state.path, line=anchor.line,
        column=anchor.column, end_line=anchor.end_line, statement_index=anchor.index, why=rule.problem,
        fix=violation.fix or rule.fix,
    )


def _syntax_error(statement: Statement, path: str, prefix: str = "", anchor: Statement | None = None) -> Finding:
    rule = get_rule("syntax-error")
    where = anchor or statement
    return Finding(
        rule=rule.code, severity=rule.severity, message=f"{prefix}{statement.error}", path=path,
        line=statement.error_line or where.line, column=statement.error_column or where.column,
        end_line=where.end_line, statement_index=where.index, why=rule.problem, fix=rule.fix,
    )


def _check_embedded(statement: Statement, state: FileState) -> list[Finding]:
    node = statement.node
    if not isinstance(node, (ast.DoStmt, ast.CreateFunctionStmt)):
        return []
    try:
        pieces = embedded_sql(node)
    except EmbeddedParseError as exc:
        rule = get_rule("syntax-error")
        return [Finding(
            rule=rule.code, severity=rule.severity, message=f"PL/pgSQL body: {exc.args[0]}", path=state.path,
            line=statement.line, column=statement.column, end_line=statement.end_line,
            statement_index=statement.index, why=rule.problem, fix=rule.fix,
        )]
    findings: list[Finding] = []
    search_from = 0
    for piece in pieces:
        context = state.context if piece.executed else replace(
            state.context, new_tables=set(state.context.new_tables), new_indexes=set(state.context.new_indexes))
        inner = _split(piece.sql, state.path)
        nested = FileState(
            path=state.path, statements=inner, context=context, transaction_depth=state.transaction_depth,
            implicit_transaction=True, nested=piece.origin, executed=piece.executed,
        )
        prefix = f"in {piece.origin}{' (EXECUTE)' if piece.dynamic else ''}: "
        for inner_statement in inner:
            anchor, search_from = _anchor(statement, inner_statement, search_from)
            if inner_statement.error is not None:
                if piece.dynamic:
                    findings.append(_syntax_error(replace(inner_statement, error_line=None, error_column=None),
                                                  state.path, prefix, anchor))
                continue
            findings.extend(_check_statement(inner_statement, nested, anchor, prefix))
            _track_effects(inner_statement.node, nested)
    return findings


def _anchor(outer: Statement, inner: Statement, search_from: int) -> tuple[Statement, int]:
    """A statement carrying the outer statement's index and the inner statement's position in the file."""
    head = inner.text.split("\n", 1)[0].strip()
    position = outer.text.find(head, search_from) if head else -1
    if position < 0:
        return outer, search_from
    line = outer.line + outer.text.count("\n", 0, position)
    last_newline = outer.text.rfind("\n", 0, position)
    column = outer.column + position if last_newline < 0 else position - last_newline
    end_line = min(outer.end_line, line + inner.text.count("\n"))
    return replace(outer, line=line, column=column, end_line=end_line), position + len(head)


def _track_effects(node: Any, state: FileState) -> None:
    """Update the run's state after a statement: created tables, transaction blocks, enum values."""
    context = state.context
    if isinstance(node, ast.CreateStmt):
        context.new_tables.add(context.key(node.relation))
    elif isinstance(node, ast.IndexStmt) and node.idxname and node.relation is not None:
        context.new_indexes.add((context.key(node.relation)[0], node.idxname))
    elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None and node.into.rel is not None:
        context.new_tables.add(context.key(node.into.rel))
    elif isinstance(node, ast.RenameStmt) and node.renameType == enums.ObjectType.OBJECT_TABLE and node.relation:
        old = context.key(node.relation)
        if old in context.new_tables:
            context.new_tables.discard(old)
            context.new_tables.add((old[0], node.newname))
    elif isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
        for names in node.objects or ():
            context.new_tables.discard(name_key(names, context.default_schema))
    elif isinstance(node, ast.CreateFunctionStmt) and node.funcname:
        _track_function_volatility(node, context)
    elif isinstance(node, ast.TransactionStmt):
        kind = enums.TransactionStmtKind
        if node.kind in (kind.TRANS_STMT_BEGIN, kind.TRANS_STMT_START):
            state.transaction_depth += 1
        elif node.kind in (kind.TRANS_STMT_COMMIT, kind.TRANS_STMT_ROLLBACK, kind.TRANS_STMT_PREPARE):
            state.transaction_depth = 0
            state.enum_values_added.clear()
    elif isinstance(node, ast.AlterEnumStmt) and node.newVal and not node.oldVal:
        type_name = ".".join(n.sval for n in node.typeName or () if isinstance(n, ast.String))
        state.enum_values_added.append((type_name, node.newVal))


def _track_function_volatility(node: ast.CreateFunctionStmt, context: LintContext) -> None:
    """A function created IMMUTABLE or STABLE earlier in the run is a safe DEFAULT; VOLATILE (the default) is not."""
    names = [n.sval.lower() for n in node.funcname if isinstance(n, ast.String)]
    volatility = "volatile"
    for option in node.options or ():
        if isinstance(option, ast.DefElem) and option.defname == "volatility" and isinstance(option.arg, ast.String):
            volatility = option.arg.sval.lower()
    spellings = {names[-1], ".".join(names)}
    if volatility in ("immutable", "stable"):
        context.nonvolatile_functions |= spellings
    else:
        context.nonvolatile_functions -= spellings


def _suppressions(
    statements: list[Statement], text: str
) -> tuple[set[str], dict[int, set[str]], list[Suppression]]:
    """(file-wide rules, rules per statement index, every directive) from ignore comments."""
    file_rules: set[str] = set()
    per_statement: dict[int, set[str]] = {}
    directives: list[Suppression] = []
    if not statements:
        return file_rules, per_statement, parse_directives(text)
    previous_end = 0
    for statement in statements:
        gap_start = statement.start - len(statement.preceding)
        found = parse_directives(statement.preceding, gap_start)
        directives.extend(found)
        for directive in found:
            if statement.index > 0 and "\n" not in text[previous_end:directive.offset]:
                target = per_statement.setdefault(statement.index - 1, set())  # trailing comment, same line
            elif statement.index == 0:
                target = file_rules
            else:
                target = per_statement.setdefault(statement.index, set())
            target.update(directive.rules)
        previous_end = statement.end
    last = statements[-1]
    for directive in parse_directives(text[last.end:], last.end):
        directives.append(directive)
        if "\n" not in text[last.end:directive.offset]:
            per_statement.setdefault(last.index, set()).update(directive.rules)
    return file_rules, per_statement, directives


def _unknown_suppressions(directives: list[Suppression], source: SourceText, path: str) -> list[Finding]:
    rule = get_rule("unknown-suppression-rule")
    findings = []
    for directive in directives:
        line, column = source.line_col(directive.offset)
        if not directive.rules:
            message = "migration-guard:ignore names no rule; write -- migration-guard:ignore RULE[,RULE] reason"
        else:
            unknown = [code for code in directive.rules if get_rule(code) is None]
            if not unknown:
                continue
            message = f"migration-guard:ignore names unknown rule(s) {', '.join(unknown)}"
        findings.append(Finding(rule=rule.code, severity=rule.severity, message=message, path=path, line=line,
                                column=column, end_line=line, statement_index=-1, why=rule.problem, fix=rule.fix))
    return findings


def _invalid_input(text: str, path: str) -> Finding | None:
    if "\x00" not in text:
        return None
    rule = get_rule("invalid-input")
    line, column = SourceText(text, path).line_col(text.index("\x00"))
    return Finding(rule=rule.code, severity=rule.severity, message="binary content (NUL byte): not an SQL file",
                   path=path, line=line, column=column, end_line=line, why=rule.problem, fix=rule.fix)
