"""The role can create objects in the target schema and owns the tables the migrations alter."""

from __future__ import annotations

import psycopg

from migration_guard.tasks.sql.identifiers import quoted
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def _not_owned_among(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    if not tables:
        return []
    return conn.execute(
        "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN unnest(%s::text[], %s::text[]) AS t(s, r) ON t.s = n.nspname AND t.r = c.relname "
        "WHERE NOT pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY 1, 2",
        ([t[0] for t in tables], [t[1] for t in tables]),
    ).fetchall()


def altered_tables(planned: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """Tables the migrations lock above ROW EXCLUSIVE: DDL (ALTER, CREATE INDEX ...) that needs
    ownership; plain INSERT/UPDATE/DELETE only need table privileges."""
    from migration_guard.tasks.sql.locks import LOCK_MODES, ROW_EXCLUSIVE

    return [key for key, mode in planned.items() if LOCK_MODES.index(mode) > LOCK_MODES.index(ROW_EXCLUSIVE)]


def run(ctx: ValidationContext) -> CheckResult:
    schema = ctx.schema
    touched = altered_tables(ctx.planned_locks())
    with check_connection(ctx) as conn:
        role, superuser, db_create, schema_exists, schema_create, schema_usage = conn.execute(
            "SELECT current_user::text, r.rolsuper, has_database_privilege(current_database(), 'CREATE'), "
            "n.oid IS NOT NULL, n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'CREATE'), "
            "n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'USAGE') "
            "FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = %s WHERE r.rolname = current_user",
            (schema,),
        ).fetchone()
        not_owned = _not_owned_among(conn, touched)
        read_only, replica = conn.execute(
            "SELECT current_setting('default_transaction_read_only') = 'on', pg_is_in_recovery()").fetchone()
        ledger_schema = ctx.project.ledger.table_schema
        ledger_exists, ledger_create = conn.execute(
            "SELECT n.oid IS NOT NULL, n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'USAGE') "
            "AND has_schema_privilege(n.oid, 'CREATE') FROM (SELECT 1) one "
            "LEFT JOIN pg_namespace n ON n.nspname = %s", (ledger_schema,)).fetchone()
    if replica:
        return CHECK.result(CheckStatus.FAIL, "the server is a read-only replica (in recovery)",
                            fix="point DATABASE_URL at the primary", role=role)
    if read_only:
        return CHECK.result(CheckStatus.FAIL, f"role {role} starts every transaction read-only "
                            "(default_transaction_read_only = on): no migration can write",
                            fix=f'ALTER ROLE {quoted(role)} SET default_transaction_read_only = off;  '
                                "(or ALTER DATABASE, wherever it is set), then reconnect", role=role)
    if superuser:
        return CHECK.result(CheckStatus.PASS, f"role {role} is a superuser", role=role)
    if not schema_exists:
        if db_create:
            return CHECK.result(CheckStatus.PASS, f"schema {schema} does not exist yet; role {role} may create it", role=role)
        return CHECK.result(CheckStatus.FAIL, f"schema {schema} does not exist and role {role} cannot create schemas",
                            fix=f'GRANT CREATE ON DATABASE <db> TO {quoted(role)};  (or CREATE SCHEMA {quoted(schema)} as an admin)', role=role)
    if not (schema_create and schema_usage):
        return CHECK.result(CheckStatus.FAIL, f"role {role} cannot create objects in schema {schema}",
                            fix=f'GRANT USAGE, CREATE ON SCHEMA {quoted(schema)} TO {quoted(role)};', role=role)
    listed = [f"{s}.{t} (owner {owner})" for s, t, owner in not_owned]
    ledger_problem = None
    if ledger_schema != schema and not ledger_exists and not db_create:
        ledger_problem = CHECK.result(
            CheckStatus.FAIL, f"the ledger schema {ledger_schema} does not exist and role {role} cannot create schemas",
            fix=f'GRANT CREATE ON DATABASE <db> TO {quoted(role)};  (or CREATE SCHEMA {quoted(ledger_schema)} AUTHORIZATION '
                f'{quoted(role)} as an admin)', role=role)
    elif ledger_schema != schema and ledger_exists and not ledger_create:
        ledger_problem = CHECK.result(CheckStatus.FAIL, f"role {role} cannot write the ledger in schema {ledger_schema}",
                                      fix=f'GRANT USAGE, CREATE ON SCHEMA {quoted(ledger_schema)} TO {quoted(role)};', role=role)
    if ledger_problem is not None and not listed:
        return ledger_problem
    if listed:
        return CHECK.result(CheckStatus.FAIL, f"role {role} does not own {len(listed)} table(s) the pending migrations alter",
                            listed, fix=f'run the migrations as the owner, or ALTER TABLE ... OWNER TO {quoted(role)};', role=role)
    return CHECK.result(CheckStatus.PASS, f"role {role} can create in {schema} and owns the tables the migrations touch", role=role)


CHECK = Check("privileges", "Privileges in the target schema", run,
              why="a migration that fails on 'permission denied' half-way leaves a failed ledger row behind")
