"""The role can create objects in the target schema and owns the tables the migrations alter."""

from __future__ import annotations

from migration_guard.tasks.validation.base import Check, check_connection
from migration_guard.tasks.validation.context import ValidationContext
from migration_guard.tasks.validation.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    schema = ctx.schema
    with check_connection(ctx) as conn:
        role, superuser, db_create, schema_exists, schema_create, schema_usage = conn.execute(
            "SELECT current_user::text, r.rolsuper, has_database_privilege(current_database(), 'CREATE'), "
            "n.oid IS NOT NULL, n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'CREATE'), "
            "n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'USAGE') "
            "FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = %s WHERE r.rolname = current_user",
            (schema,),
        ).fetchone()
        not_owned = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
            "AND NOT pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY 1",
            (schema,),
        ).fetchall()
    if superuser:
        return CHECK.result(CheckStatus.PASS, f"role {role} is a superuser", role=role)
    if not schema_exists:
        if db_create:
            return CHECK.result(CheckStatus.PASS, f"schema {schema} does not exist yet; role {role} may create it", role=role)
        return CHECK.result(CheckStatus.FAIL, f"schema {schema} does not exist and role {role} cannot create schemas",
                            fix=f'GRANT CREATE ON DATABASE <db> TO "{role}";  (or CREATE SCHEMA "{schema}" as an admin)', role=role)
    if not (schema_create and schema_usage):
        return CHECK.result(CheckStatus.FAIL, f"role {role} cannot create objects in schema {schema}",
                            fix=f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}";', role=role)
    touched = ctx.touched_tables()
    owners = {name: owner for name, owner in not_owned}
    if touched is None:
        if owners:
            return CHECK.result(CheckStatus.WARN, f"role {role} does not own {len(owners)} object(s) in {schema}; "
                                "ALTER on them would fail (the tables the migrations touch are unknown)",
                                [f"{schema}.{n} (owner {o})" for n, o in owners.items()],
                                fix=f'ALTER TABLE ... OWNER TO "{role}";  or run migrations as the owner', role=role)
        return CHECK.result(CheckStatus.PASS, f"role {role} can create in {schema} and owns every object there", role=role)
    blocked = [f"{s}.{t} (owner {owners[t]})" for s, t in touched if s == schema and t in owners]
    if blocked:
        return CHECK.result(CheckStatus.FAIL, f"role {role} does not own {len(blocked)} table(s) the pending migrations alter",
                            blocked, fix=f'run the migrations as the owner, or ALTER TABLE ... OWNER TO "{role}";', role=role)
    return CHECK.result(CheckStatus.PASS, f"role {role} can create in {schema} and owns the tables the migrations touch", role=role)


CHECK = Check("privileges", "Privileges in the target schema", run,
              why="a migration that fails on 'permission denied' half-way leaves a failed ledger row behind")
