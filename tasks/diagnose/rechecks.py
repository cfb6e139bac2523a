"""The live probes of a failure's cause (read-only I/O): dry re-checks of the data a statement
needs, and the sessions holding locks on the tables it alters.

For data-dependent causes the offending rows are counted and a query that lists them is
returned: duplicates for a UNIQUE index or constraint, NULLs for SET NOT NULL, orphans for a
FOREIGN KEY, rows failing a CHECK, values that do not cast for a TYPE change.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql
from pglast import ast, enums
from pglast.stream import RawStream

from migration_guard.tasks.catalog import locks_on_tables
from migration_guard.tasks.diagnose.model import Diagnosis, Effect, StatementDiagnosis
from migration_guard.tasks.diagnose.types import format_type_name
from migration_guard.tasks.diagnose.cause import SUMMARIES, FailureCause
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.sql.identifiers import qualified, quoted

AT = enums.AlterTableType
CT = enums.ConstrType


#: Every statement kind that can fail on the data already in the tables, and how its cause is
#: re-checked without running it. ``probe`` None means "cannot check": the re-check says so
#: (``present`` None) and never turns an unknown cause into "gone". ``statement_data_kinds`` maps a
#: statement to these kinds; ``recheck_statement`` runs their probes.
DATA_FAILURE_KINDS: dict[str, tuple[str, str]] = {
    "add_column_not_null": ("ADD COLUMN ... NOT NULL without a DEFAULT on a table with rows (23502)",
                            "rows in the table"),
    "set_not_null": ("ALTER COLUMN ... SET NOT NULL (23502)", "NULLs in the column"),
    "unique": ("CREATE UNIQUE INDEX / ADD CONSTRAINT ... UNIQUE (23505)", "duplicate key values"),
    "primary_key": ("ADD CONSTRAINT ... PRIMARY KEY (23505 / 23502)", "duplicate or NULL key values"),
    "foreign_key": ("ADD CONSTRAINT ... FOREIGN KEY (23503)", "rows whose parent is missing"),
    "check": ("ADD CONSTRAINT ... CHECK (23514)", "rows the check rejects"),
    "type_change": ("ALTER COLUMN ... TYPE [USING ...] (22P02, 22001, 22003, 42804)",
                    "values that do not convert (the USING expression evaluated read-only)"),
    "enum_value_removed": ("enum value removal or rename: the column converted to a new enum type (22P02)",
                           "values that are not labels of the new enum"),
    "insert_select": ("INSERT ... SELECT / VALUES violating UNIQUE, FOREIGN KEY, NOT NULL (23505, 23503, 23502)",
                      "inserted rows that clash with existing rows, with each other, miss a parent or are NULL"),
    "update": ("UPDATE ... violating UNIQUE, FOREIGN KEY, NOT NULL, CHECK", "cannot check"),
    "delete_referenced": ("DELETE of rows other tables still reference (23503)", "referencing rows"),
    "check_on_insert": ("INSERT ... violating a CHECK constraint (23514)", "cannot check"),
}

#: kinds whose probe is explicitly "cannot check" (why, for the report)
CANNOT_CHECK = {
    "update": "an UPDATE's new values can only be checked against constraints by running it",
    "check_on_insert": "a CHECK on inserted rows can only be evaluated by running the INSERT",
}


def statement_data_kinds(node: object) -> list[str]:
    """The :data:`DATA_FAILURE_KINDS` a statement belongs to (empty: it cannot fail on data)."""
    if isinstance(node, ast.IndexStmt):
        return ["unique"] if node.unique else []
    if isinstance(node, ast.InsertStmt):
        return ["insert_select", "check_on_insert"]
    if isinstance(node, ast.UpdateStmt):
        return ["update"]
    if isinstance(node, ast.DeleteStmt):
        return ["delete_referenced"]
    if not isinstance(node, ast.AlterTableStmt):
        return []
    kinds = []
    for cmd in node.cmds or ():
        definition = cmd.def_
        if cmd.subtype == AT.AT_AddColumn and isinstance(definition, ast.ColumnDef) and _not_null_without_default(
                definition):
            kinds.append("add_column_not_null")
        elif cmd.subtype == AT.AT_SetNotNull:
            kinds.append("set_not_null")
        elif cmd.subtype == AT.AT_AlterColumnType:
            kinds.append("type_change")
        elif cmd.subtype == AT.AT_AddConstraint and isinstance(definition, ast.Constraint) \
                and not definition.skip_validation:
            kinds += {CT.CONSTR_UNIQUE: ["unique"], CT.CONSTR_PRIMARY: ["primary_key"],
                      CT.CONSTR_FOREIGN: ["foreign_key"], CT.CONSTR_CHECK: ["check"]}.get(definition.contype, [])
    return kinds


def _not_null_without_default(column: ast.ColumnDef) -> bool:
    constraints = [c for c in column.constraints or () if isinstance(c, ast.Constraint)]
    if any(c.contype in (CT.CONSTR_DEFAULT, CT.CONSTR_IDENTITY, CT.CONSTR_GENERATED) for c in constraints):
        return False
    names = [n.sval for n in column.typeName.names or () if isinstance(n, ast.String)] if column.typeName else []
    if names and names[-1] in ("serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"):
        return False
    return bool(column.is_not_null) or any(c.contype in (CT.CONSTR_NOTNULL, CT.CONSTR_PRIMARY) for c in constraints)


def recheck_statement(conn: psycopg.Connection, failing: StatementDiagnosis, snapshot: SchemaSnapshot,
                      schema: str, new_enums: dict[tuple[str, str], tuple[str, ...]] | None = None
                      ) -> FailureCause | None:
    """Re-check one statement's data-dependent cause against the live rows (read-only).

    Args:
        new_enums: enum types the migration itself creates (not yet in the database), by
            (schema, name) with their labels: a conversion to one of them is checked against them.

    Returns:
        The cause with its offending row count and listing query (``present`` False when no row
        blocks now, None when the re-check itself failed or cannot be done without running the
        statement), or None when the statement has no data-dependent cause to check.
    """
    node = failing.node
    if isinstance(node, ast.IndexStmt) and node.unique:
        columns = [p.name for p in node.indexParams or ()]
        if all(columns) and node.whereClause is None:
            return _duplicates(conn, failing, (node.relation.schemaname or schema, node.relation.relname), columns)
        return _cannot_check("duplicates", failing, "a UNIQUE index on expressions or with WHERE")
    if isinstance(node, ast.InsertStmt):
        return _insert_clashes(conn, failing, node, snapshot, schema)
    if isinstance(node, ast.UpdateStmt):
        return _update_cannot_fail(failing, node, snapshot, schema) or _cannot_check(
            "unknown", failing, CANNOT_CHECK["update"])
    if isinstance(node, ast.DeleteStmt):
        return _delete_referenced(conn, failing, node, snapshot, schema)
    if not isinstance(node, ast.AlterTableStmt):
        return None
    table = (node.relation.schemaname or schema, node.relation.relname)
    cleared = None  # a sub-command whose re-check passed (returned when no other one has a cause)
    for index, cmd in enumerate(node.cmds or ()):
        if failing.commands and failing.commands[index].effect is Effect.DONE:
            continue
        found = _recheck_command(conn, failing, table, cmd, snapshot, schema, new_enums or {})
        if found is not None and found.present is not False:
            return found
        # a sub-command that passes does not clear the statement: a later one may still fail (Prisma's
        # `@id` change writes SET NOT NULL, then ADD PRIMARY KEY, in one ALTER TABLE)
        cleared = found or cleared
    return cleared


def _recheck_command(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str],
                     cmd: ast.AlterTableCmd, snapshot: SchemaSnapshot, schema: str,
                     new_enums: dict[tuple[str, str], tuple[str, ...]]) -> FailureCause | None:
    """One ALTER TABLE sub-command's data re-check, or None when it has no data-dependent cause."""
    definition = cmd.def_
    if cmd.subtype == AT.AT_AddColumn and isinstance(definition, ast.ColumnDef) and \
            _not_null_without_default(definition):
        return _rows_without_value(conn, failing, table, definition.colname)
    if cmd.subtype == AT.AT_AddConstraint and isinstance(definition, ast.Constraint):
        if definition.skip_validation:
            return None  # NOT VALID: existing rows are not checked
        if definition.contype == CT.CONSTR_FOREIGN:
            return _orphans(conn, failing, table, definition, snapshot, schema)
        if definition.contype in (CT.CONSTR_UNIQUE, CT.CONSTR_PRIMARY) and definition.keys:
            return _duplicates(conn, failing, table, [k.sval for k in definition.keys],
                               nulls_too=definition.contype == CT.CONSTR_PRIMARY)
        if definition.contype in (CT.CONSTR_UNIQUE, CT.CONSTR_PRIMARY):
            return _cannot_check("duplicates", failing, "a key added USING INDEX")
        if definition.contype == CT.CONSTR_CHECK and definition.raw_expr is not None:
            expression = RawStream()(definition.raw_expr)
            return _count(conn, failing, "check_violation", table, f"NOT ({expression})",
                          f"rows where the check ({expression}) is false")
    if cmd.subtype == AT.AT_SetNotNull:
        return _count(conn, failing, "nulls", table, f"{quoted(cmd.name)} IS NULL", f"NULLs in {cmd.name}")
    if cmd.subtype == AT.AT_AlterColumnType and isinstance(definition, ast.ColumnDef):
        return _uncastable(conn, failing, table, cmd.name, definition, schema, new_enums)
    return None


def update_cannot_violate(node: ast.UpdateStmt, snapshot: SchemaSnapshot, schema: str) -> bool:
    """True when an UPDATE sets only columns no key, FOREIGN KEY or CHECK covers, each to a non-NULL
    constant or into a nullable column (as ``snapshot`` has them): it cannot violate a constraint
    (class 23), whatever the rows."""
    table = (node.relation.schemaname or schema, node.relation.relname)
    info = snapshot.tables.get(table)
    covered = {c for con in snapshot.table_constraints(*table) for c in con.columns}
    covered |= {c for index in snapshot.table_indexes(*table) if index.unique for c in index.columns}
    for target in node.targetList or ():
        if not isinstance(target, ast.ResTarget) or target.name in covered:
            return False
        if any(con.type == "c" for con in snapshot.table_constraints(*table)) or target.indirection:
            return False  # a CHECK may read any column
        column = info.columns.get(target.name) if info else None
        constant = isinstance(target.val, ast.A_Const) and not target.val.isnull
        if not constant and (column is None or not column.nullable):
            return False
    return True


def _update_cannot_fail(failing: StatementDiagnosis, node: ast.UpdateStmt, snapshot: SchemaSnapshot,
                        schema: str) -> FailureCause | None:
    """An UPDATE that cannot violate a constraint (:func:`update_cannot_violate`) cannot fail on data:
    the cause is not there. None when it might."""
    if not update_cannot_violate(node, snapshot, schema):
        return None
    return FailureCause("unknown", False, "the UPDATE", "it sets only columns no constraint covers",
                        offending_rows=0, statement_index=failing.index)


def _cannot_check(kind: str, failing: StatementDiagnosis, why: str) -> FailureCause:
    return FailureCause(kind, None, SUMMARIES.get(kind, ""),
                        f"statement {failing.index + 1} (line {failing.line}) cannot be checked without running it: {why}",
                        statement_index=failing.index)


def _rows_without_value(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str],
                        column: str) -> FailureCause:
    """ADD COLUMN ... NOT NULL without a DEFAULT: every existing row would get NULL."""
    listing = f"SELECT * FROM {qualified(*table)} LIMIT 100;"
    try:
        rows = conn.execute(f"SELECT count(*) FROM {qualified(*table)}").fetchone()[0]
    except psycopg.Error as exc:
        return _cannot_check("nulls", failing, f"the table cannot be read ({exc.diag.message_primary})")
    summary = f"the new NOT NULL column {column} has no DEFAULT and {table[1]} has rows, which would get NULL"
    if not rows:
        return FailureCause("nulls", False, summary, f"{table[1]} is empty now", offending_rows=0,
                            statement_index=failing.index)
    return FailureCause(
        "nulls", True, summary, "the fix is the data or a default, not the statement's syntax",
        offending_rows=rows, listing_query=listing, statement_index=failing.index,
        fix=(f"decide: roll back what ran (migration-guard recover --mode rollback --yes), then give {column} a "
             f"DEFAULT in the migration (or add it nullable, fill it, then SET NOT NULL) and deploy again; or, if "
             f"the rows of {table[1]} are disposable, delete them and re-run migration-guard recover"))


def _insert_clashes(conn: psycopg.Connection, failing: StatementDiagnosis, node: ast.InsertStmt,
                    snapshot: SchemaSnapshot, schema: str) -> FailureCause | None:
    """INSERT ... SELECT / VALUES: the rows it would insert that clash with a UNIQUE key (existing rows
    or each other), miss a FOREIGN KEY parent, or put NULL into a NOT NULL column without default."""
    table = (node.relation.schemaname or schema, node.relation.relname)
    info = snapshot.tables.get(table)
    if info is None or node.selectStmt is None:
        return _cannot_check("unknown", failing, f"table {table[1]} is not there yet")
    if node.onConflictClause is not None:
        return None  # ON CONFLICT absorbs the clashes
    if node.withClause is not None:
        return _cannot_check("unknown", failing, "an INSERT with a WITH clause (its CTEs may write rows first)")
    columns = [t.name for t in node.cols or ()] or list(info.columns)
    source = RawStream()(node.selectStmt)
    alias = ", ".join(quoted(c) for c in columns)
    rows = f"(SELECT * FROM ({source}) AS mg_src({alias}))"
    checks: list[tuple[str, str, str, str]] = []  # (kind, count query, listing query, what clashes)
    keyed = [(c.name, list(c.columns)) for c in snapshot.table_constraints(*table) if c.type in ("p", "u")]
    keyed += [(i.name, list(i.columns)) for i in snapshot.table_indexes(*table)
              if i.unique and i.valid and i.constraint is None and " WHERE " not in i.definition]
    for key_name, keys in keyed:
        if keys and all(keys) and set(keys) <= set(columns):
            tuple_n = ", ".join(f"n.{quoted(k)}" for k in keys)
            tuple_d = ", ".join(f"d.{quoted(k)}" for k in keys)
            match = " AND ".join(f"t.{quoted(k)} = n.{quoted(k)}" for k in keys)
            not_null = " AND ".join(f"n.{quoted(k)} IS NOT NULL" for k in keys)
            where = (f"{not_null} AND (EXISTS (SELECT 1 FROM {qualified(*table)} t WHERE {match}) OR ({tuple_n}) IN "
                     f"(SELECT {tuple_d} FROM {rows} d GROUP BY {tuple_d} HAVING count(*) > 1))")
            checks.append(("duplicates", f"SELECT count(*) FROM {rows} n WHERE {where}",
                           f"SELECT n.* FROM {rows} n WHERE {where};", f"the key of {key_name}"))
    for name, column in info.columns.items():
        if column.nullable:
            continue
        if name in columns:
            where = f"{quoted(name)} IS NULL"
            checks.append(("nulls", f"SELECT count(*) FROM {rows} n WHERE {where}",
                           f"SELECT * FROM {rows} n WHERE {where};", f"NULL into {name}"))
        elif column.default is None:
            checks.append(("nulls", f"SELECT count(*) FROM {rows} n", f"SELECT * FROM {rows} n;",
                           f"{name} (NOT NULL, no default) gets NULL"))
    for constraint in snapshot.table_constraints(*table):
        parent = _fk_parent(constraint.definition, schema)
        if constraint.type != "f" or parent is None or not set(constraint.columns) <= set(columns):
            continue
        parent_table, parent_cols = parent
        if len(parent_cols) != len(constraint.columns):
            continue
        present = " AND ".join(f"n.{quoted(c)} IS NOT NULL" for c in constraint.columns)
        match = " AND ".join(f"p.{quoted(pc)} = n.{quoted(c)}" for c, pc in zip(constraint.columns, parent_cols))
        where = f"{present} AND NOT EXISTS (SELECT 1 FROM {qualified(*parent_table)} p WHERE {match})"
        checks.append(("orphans", f"SELECT count(*) FROM {rows} n WHERE {where}",
                       f"SELECT * FROM {rows} n WHERE {where};", f"no {parent_table[1]} for {constraint.name}"))
    for kind, count_query, listing, what in checks:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                found = conn.execute(count_query).fetchone()[0]
        except psycopg.Error as exc:
            return _cannot_check(kind, failing, f"its rows cannot be read now ({exc.diag.message_primary})")
        if found:
            return FailureCause(kind, True, f"the INSERT into {table[1]}: {SUMMARIES[kind]}",
                                f"{found} row(s) the INSERT would write clash ({what})", offending_rows=found,
                                listing_query=listing, statement_index=failing.index)
    return FailureCause("unknown", False, f"the INSERT into {table[1]}",
                        "no inserted row clashes with a UNIQUE, FOREIGN KEY or NOT NULL column now",
                        offending_rows=0, statement_index=failing.index)


_FK_REFERENCES = re.compile(r'REFERENCES\s+((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)\s*\(([^)]*)\)')


def _fk_parent(definition: str, schema: str) -> tuple[tuple[str, str], list[str]] | None:
    """(parent table, parent columns) from ``pg_get_constraintdef`` of a FOREIGN KEY."""
    match = _FK_REFERENCES.search(definition or "")
    if not match:
        return None
    parts = [p.strip('"') for p in re.findall(r'"[^"]+"|\w+', match.group(1))]
    parent = (parts[0], parts[1]) if len(parts) == 2 else (schema, parts[0])
    return parent, [c.strip().strip('"') for c in match.group(2).split(",")]


def _delete_referenced(conn: psycopg.Connection, failing: StatementDiagnosis, node: ast.DeleteStmt,
                       snapshot: SchemaSnapshot, schema: str) -> FailureCause | None:
    """DELETE: rows of other tables that still reference the rows it deletes (NO ACTION / RESTRICT)."""
    table = (node.relation.schemaname or schema, node.relation.relname)
    if node.usingClause:
        return _cannot_check("orphans", failing, "a DELETE ... USING")
    where = f" WHERE {RawStream()(node.whereClause)}" if node.whereClause is not None else ""
    for constraint in snapshot.constraints.values():
        parent = _fk_parent(constraint.definition, schema)
        if constraint.type != "f" or parent is None or parent[0] != table:
            continue
        if re.search(r"ON DELETE (CASCADE|SET NULL|SET DEFAULT)", constraint.definition):
            continue
        child = (constraint.schema, constraint.table)
        match = " AND ".join(f"d.{quoted(pc)} = c.{quoted(cc)}" for cc, pc in zip(constraint.columns, parent[1]))
        deleted = f"SELECT * FROM {qualified(*table)}{where}"
        query = f"SELECT c.* FROM {qualified(*child)} c WHERE EXISTS (SELECT 1 FROM ({deleted}) d WHERE {match})"
        try:
            found = conn.execute(f"SELECT count(*) FROM ({query}) r").fetchone()[0]
        except psycopg.Error as exc:
            return _cannot_check("orphans", failing, f"its rows cannot be read now ({exc.diag.message_primary})")
        if found:
            return FailureCause("orphans", True, f"rows of {child[1]} still reference rows the DELETE removes",
                                f"{found} row(s) of {child[1]} reference deleted {table[1]} rows "
                                f"({constraint.name})", offending_rows=found, listing_query=query + ";",
                                statement_index=failing.index)
    return FailureCause("orphans", False, SUMMARIES["orphans"], f"no row references the deleted {table[1]} rows now",
                        offending_rows=0, statement_index=failing.index)


def _count(conn: psycopg.Connection, failing: StatementDiagnosis, kind: str, table: tuple[str, str], where: str,
           what: str) -> FailureCause:
    listing = f"SELECT * FROM {qualified(*table)} WHERE {where}"
    try:
        rows = conn.execute(f"SELECT count(*) FROM {qualified(*table)} WHERE {where}").fetchone()[0]
    except psycopg.Error as exc:
        return FailureCause(kind, None, SUMMARIES[kind], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    return FailureCause(kind, rows > 0, SUMMARIES[kind], f"{rows} {what}" if rows else f"no {what} now",
                        offending_rows=rows, listing_query=listing + ";", statement_index=failing.index)


def _duplicates(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str], columns: list[str],
                nulls_too: bool = False) -> FailureCause:
    cols = ", ".join(quoted(c) for c in columns)
    not_null = " AND ".join(f"{quoted(c)} IS NOT NULL" for c in columns)
    if nulls_too:  # a PRIMARY KEY: the NULL keys are listed too (each NULL combination as one group)
        groups = (f"SELECT {cols}, count(*) AS copies FROM {qualified(*table)} "
                  f"GROUP BY {cols} HAVING count(*) > 1 OR NOT ({not_null})")
    else:
        groups = (f"SELECT {cols}, count(*) AS copies FROM {qualified(*table)} WHERE {not_null} "
                  f"GROUP BY {cols} HAVING count(*) > 1")
    listing = f"{groups} ORDER BY copies DESC;"
    try:
        listed = conn.execute(f"SELECT coalesce(sum(copies), 0)::bigint FROM ({groups}) d").fetchone()[0]
        nulls = conn.execute(
            f"SELECT count(*) FROM {qualified(*table)} WHERE NOT ({not_null})").fetchone()[0] if nulls_too else 0
        rows = listed - nulls  # the rows sharing a whole (non-NULL) key
    except psycopg.Error as exc:
        return FailureCause("duplicates", None, SUMMARIES["duplicates"], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    detail = f"{rows} rows share a value of ({', '.join(columns)})" if rows else f"no duplicate ({', '.join(columns)}) now"
    if nulls:
        detail += f"; {nulls} rows have NULLs in the key"
    return FailureCause("duplicates", rows + nulls > 0, SUMMARIES["duplicates"], detail, offending_rows=rows + nulls,
                        listing_query=listing, statement_index=failing.index)


def _orphans(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str], constraint: ast.Constraint,
             snapshot: SchemaSnapshot, schema: str) -> FailureCause:
    parent = (constraint.pktable.schemaname or schema, constraint.pktable.relname)
    child_cols = [a.sval for a in constraint.fk_attrs or ()]
    parent_cols = [a.sval for a in constraint.pk_attrs or ()]
    if not parent_cols:  # REFERENCES parent without columns: the parent's primary key
        primary = next((c for c in snapshot.table_constraints(*parent) if c.type == "p"), None)
        parent_cols = list(primary.columns) if primary else []
    if not parent_cols or len(parent_cols) != len(child_cols):
        return FailureCause("orphans", None, SUMMARIES["orphans"], "the referenced key could not be determined",
                            statement_index=failing.index)
    present = " AND ".join(f"c.{quoted(c)} IS NOT NULL" for c in child_cols)
    match = " AND ".join(f"p.{quoted(p)} = c.{quoted(c)}" for c, p in zip(child_cols, parent_cols))
    where = f"{present} AND NOT EXISTS (SELECT 1 FROM {qualified(*parent)} p WHERE {match})"
    listing = f"SELECT c.* FROM {qualified(*table)} c WHERE {where};"
    try:
        rows = conn.execute(f"SELECT count(*) FROM {qualified(*table)} c WHERE {where}").fetchone()[0]
    except psycopg.Error as exc:
        return FailureCause("orphans", None, SUMMARIES["orphans"], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    detail = (f"{rows} rows of {table[1]} reference a missing {parent[1]} ({', '.join(child_cols)})" if rows
              else f"no orphan rows in {table[1]} now")
    return FailureCause("orphans", rows > 0, SUMMARIES["orphans"], detail, offending_rows=rows,
                        listing_query=listing, statement_index=failing.index)


_LENGTH_LIMITED = re.compile(r"^(?:character varying|character|bit varying|bit)\((\d+)\)$")
_CASTABLE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION pg_temp.mg_castable(value text, target text) RETURNS boolean "
    "LANGUAGE plpgsql AS $f$ BEGIN EXECUTE format('SELECT %L::%s', value, target); RETURN true; "
    "EXCEPTION WHEN others THEN RETURN false; END $f$"
)


def _uncastable(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str], column: str,
                definition: ast.ColumnDef, schema: str,
                new_enums: dict[tuple[str, str], tuple[str, ...]]) -> FailureCause:
    target = format_type_name(definition.typeName, schema)
    using = definition.raw_default
    col = quoted(column)
    labels = _enum_labels(definition.typeName, schema, new_enums, conn)
    if labels is not None and (using is None or _is_cast_of_column(using, column)):
        quoted_labels = ", ".join(sql.Literal(label).as_string(conn) for label in labels) or "NULL"
        cause = _count(conn, failing, "uncastable", table, f"{col} IS NOT NULL AND {col}::text NOT IN ({quoted_labels})",
                       f"values of {column} that are not labels of {target} (removed or renamed values)")
        cause.summary = "values are not labels of the new enum type (a removed or renamed enum value)"
        return cause
    if isinstance(using, ast.TypeCast) and isinstance(using.arg, ast.ColumnRef) and \
            [f.sval for f in using.arg.fields if isinstance(f, ast.String)][-1:] == [column]:
        target, using = format_type_name(using.typeName, schema), None  # USING col::type is the plain cast
    if target is None:
        return _cannot_check("uncastable", failing, "the target type cannot be spelled offline")
    if using is not None:
        return _using_fails(conn, failing, table, RawStream()(using), target)
    length = _LENGTH_LIMITED.match(target)
    if length:  # an explicit cast truncates silently; the ALTER fails on longer values (22001)
        return _count(conn, failing, "uncastable", table, f"length({col}::text) > {int(length.group(1))}",
                      f"values of {column} longer than {target}")
    type_literal = sql.Literal(target).as_string(conn)
    if int(conn.info.server_version) >= 160000:
        where = f"{col} IS NOT NULL AND NOT pg_input_is_valid({col}::text, {type_literal})"
        prefix = ""
    else:
        conn.execute(_CASTABLE_FUNCTION)
        where = f"{col} IS NOT NULL AND NOT pg_temp.mg_castable({col}::text, {type_literal})"
        prefix = _CASTABLE_FUNCTION + ";\n"
    cause = _count(conn, failing, "uncastable", table, where, f"values of {column} that are not valid {target}")
    if cause.listing_query:
        cause.listing_query = prefix + cause.listing_query
    return cause


def _is_cast_of_column(expression: object, column: str) -> bool:
    """``col::type`` or ``col::text::type`` (how Prisma converts a column to a re-created enum)."""
    while isinstance(expression, ast.TypeCast):
        expression = expression.arg
    return isinstance(expression, ast.ColumnRef) and \
        [f.sval for f in expression.fields if isinstance(f, ast.String)][-1:] == [column]


def _enum_labels(type_name: ast.TypeName, schema: str, new_enums: dict[tuple[str, str], tuple[str, ...]],
                 conn: psycopg.Connection) -> tuple[str, ...] | None:
    names = [n.sval for n in type_name.names or () if isinstance(n, ast.String)]
    if not names or type_name.arrayBounds:
        return None
    key = (names[-2], names[-1]) if len(names) > 1 else (schema, names[-1])
    if key in new_enums:
        return new_enums[key]
    row = conn.execute("SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e JOIN pg_type t "
                       "ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace "
                       "WHERE n.nspname = %s AND t.typname = %s", key).fetchone()
    return tuple(row[0]) if row and row[0] else None


def _using_fails(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str], using: str,
                 target: str) -> FailureCause:
    """Evaluate ``USING`` over every row in a read-only transaction: does the conversion fail now?"""
    query = f"SELECT count(({using})::{target}) FROM {qualified(*table)}"
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(query)
    except psycopg.errors.DataException as exc:
        return FailureCause("uncastable", True, SUMMARIES["uncastable"],
                            f"converting with USING {using} fails now: {exc.diag.message_primary}",
                            listing_query=f"SELECT ({using})::{target} FROM {qualified(*table)};",
                            statement_index=failing.index)
    except psycopg.Error as exc:
        return _cannot_check("uncastable", failing, f"USING {using} cannot be evaluated now "
                             f"({exc.diag.message_primary})")
    return FailureCause("uncastable", False, SUMMARIES["uncastable"], f"every row converts with USING {using} now",
                        offending_rows=0, statement_index=failing.index)


def recheck_remaining(conn: psycopg.Connection, diagnosis: Diagnosis, snapshot: SchemaSnapshot,
                      schema: str) -> FailureCause | None:
    """The first remaining (or unknown) statement whose data re-check fails now or cannot be done, if
    any (read-only)."""
    new_enums = remaining_enums(diagnosis, schema)
    pending = sorted(diagnosis.remaining + diagnosis.unknown, key=lambda s: s.index)
    for statement in pending:
        cause = recheck_statement(conn, statement, snapshot, schema, new_enums)
        if cause is not None and cause.present is not False:
            return cause
    return None


def remaining_enums(diagnosis: Diagnosis, schema: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """Enum types a remaining ``CREATE TYPE ... AS ENUM`` makes, with their labels."""
    found = {}
    for statement in diagnosis.remaining:
        node = statement.node
        if isinstance(node, ast.CreateEnumStmt):
            names = [n.sval for n in node.typeName]
            key = (names[-2], names[-1]) if len(names) > 1 else (schema, names[-1])
            found[key] = tuple(v.sval for v in node.vals or ())
    return found


def lock_blockers(conn: psycopg.Connection, tables: list[tuple[str, str]], min_age: float) -> list[str]:
    """The sessions holding granted locks on ``tables`` in transactions older than ``min_age`` seconds,
    one line each (``mode on table held by session``); no query when ``tables`` is empty."""
    locks = locks_on_tables(conn, tables) if tables else []
    seen: dict[int, str] = {}
    for lock in locks:
        if lock.granted and (lock.session.age_seconds or 0) >= min_age:
            seen.setdefault(lock.session.pid, f"{lock.mode} on {lock.table} held by {lock.session.describe()}")
    return list(seen.values())
