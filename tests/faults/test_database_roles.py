"""Database-side faults: a role without privileges, `default_transaction_read_only = on` for the
role, `statement_timeout` set on the role. validate / migrate / healthcheck give a clear classified
error naming the GRANT or setting to change, never a traceback, and nothing is half-applied."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tests.helpers import make_sql_project, run_cli_process

pytestmark = pytest.mark.faults

MIGRATION = "CREATE TABLE accounts (id bigint PRIMARY KEY);\nSELECT pg_sleep(1);\nCREATE INDEX accounts_id_idx ON accounts (id);\n"


@pytest.fixture
def make_role(db_url: str) -> Iterator[Callable[..., str]]:
    """make_role(grants=..., **role_settings) -> DATABASE_URL logging in as a fresh role."""
    created: list[str] = []

    def make(grant: bool = True, **settings: str) -> str:
        name = f"mg_fault_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
            created.append(name)
            if grant:
                conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                    sql.Identifier(conn.info.dbname), sql.Identifier(name)))
                conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(name)))
            for key, value in settings.items():
                conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    sql.Identifier(name), sql.Identifier(key), sql.Literal(value)))
        parts = urlsplit(db_url)
        return urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port}"))

    yield make
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def env_for(url: str, tmp_path: Path) -> dict[str, str]:
    migrations = make_sql_project(tmp_path, {"0001_accounts": MIGRATION})
    return {"DATABASE_URL": url, "MIGRATIONS_DIR": str(migrations), "ALERTS_DIR": str(tmp_path / "alerts"),
            "BACKUP_DIR": str(tmp_path / "backups"), "LOG_DIR": str(tmp_path / "logs")}


def cli(args: list[str], env: dict[str, str], tmp_path: Path):
    done = run_cli_process(args, env=env, cwd=tmp_path, timeout=90)
    assert "Traceback" not in done.output, done.output
    return done


def nothing_applied(db: psycopg.Connection) -> None:
    assert db.execute("SELECT to_regclass('public.accounts')").fetchone()[0] is None
    ledger = db.execute("SELECT to_regclass('migration_guard.schema_migrations')").fetchone()[0]
    if ledger is not None:
        applied = db.execute("SELECT count(*) FROM migration_guard.schema_migrations "
                             "WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL").fetchone()[0]
        assert applied == 0


def test_role_without_privileges(tmp_path: Path, db: psycopg.Connection, make_role) -> None:
    url = make_role(grant=False)
    env = env_for(url, tmp_path)
    role = urlsplit(url).username

    validate = cli(["validate"], env, tmp_path)
    migrate = cli(["migrate", "--json"], env, tmp_path)
    health = cli(["healthcheck", "--json"], {k: v for k, v in env.items() if k != "MIGRATIONS_DIR"}, tmp_path)

    assert validate.exit_code == 1
    grant = f'GRANT USAGE, CREATE ON SCHEMA "public" TO "{role}"'
    assert grant in validate.output
    assert migrate.exit_code == 1
    report = json.loads(migrate.stdout)
    assert report["failed_stage"] == "validate" and grant in report["suggestion"]
    assert health.exit_code == 0, health.output  # read-only monitoring needs no write privilege
    nothing_applied(db)

    # the operator runs that GRANT; the ledger's own schema still cannot be created
    db.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(role)))
    validate = cli(["validate"], env, tmp_path)
    migrate = cli(["migrate", "--json", "--skip-backup"], env, tmp_path)

    assert validate.exit_code == 1, validate.output
    assert f'GRANT CREATE ON DATABASE' in validate.output and "migration_guard" in validate.output
    assert migrate.exit_code == 1 and json.loads(migrate.stdout)["failed_stage"] == "validate"
    nothing_applied(db)


def test_read_only_role(tmp_path: Path, db: psycopg.Connection, make_role) -> None:
    url = make_role(default_transaction_read_only="on")
    env = env_for(url, tmp_path)
    role = urlsplit(url).username
    fix = f'ALTER ROLE "{role}" SET default_transaction_read_only = off'

    validate = cli(["validate"], env, tmp_path)
    migrate = cli(["migrate", "--json"], env, tmp_path)
    forced = cli(["migrate", "--skip-validate", "--skip-backup"], env, tmp_path)
    health = cli(["healthcheck"], {k: v for k, v in env.items() if k != "MIGRATIONS_DIR"}, tmp_path)

    assert validate.exit_code == 1 and fix in validate.output, validate.output
    assert migrate.exit_code == 1 and json.loads(migrate.stdout)["failed_stage"] == "validate"
    assert fix in json.loads(migrate.stdout)["suggestion"]
    assert forced.exit_code == 1, forced.output
    assert "read-only" in forced.output and "default_transaction_read_only" in forced.output
    assert health.exit_code == 0, health.output
    nothing_applied(db)


def test_statement_timeout_on_the_role_is_inherited_by_default(
    tmp_path: Path, db: psycopg.Connection, make_role
) -> None:
    url = make_role(statement_timeout="300ms")
    env = env_for(url, tmp_path)

    inherited = cli(["migrate", "--json", "--skip-backup"], env, tmp_path)  # STATEMENT_TIMEOUT unset = inherit

    assert inherited.exit_code == 1, inherited.output
    report = json.loads(inherited.stdout)
    assert report["error_category"] == "TIMEOUT" and "57014" in report["error"], report
    nothing_applied(db)

    unlimited = cli(["migrate", "--skip-backup", "--statement-timeout", "0"], env, tmp_path)

    assert unlimited.exit_code == 0, unlimited.output
    assert db.execute("SELECT to_regclass('public.accounts_id_idx')").fetchone()[0] == "accounts_id_idx"


def test_statement_timeout_on_the_role(tmp_path: Path, db: psycopg.Connection, make_role) -> None:
    url = make_role(statement_timeout="300ms")
    env = env_for(url, tmp_path)

    short = cli(["migrate", "--json", "--skip-backup", "--statement-timeout", "200ms"], env, tmp_path)

    assert short.exit_code == 1
    report = json.loads(short.stdout)
    assert report["error_category"] == "TIMEOUT", report
    assert "57014" in report["error"] and "STATEMENT_TIMEOUT" in report["suggestion"]
    nothing_applied(db)  # the transaction rolled back whole

    # migration-guard's own statement_timeout applies to migration statements, not the role's 300ms
    done = cli(["migrate", "--skip-backup", "--statement-timeout", "5s"], env, tmp_path)

    assert done.exit_code == 0, done.output
    assert db.execute("SELECT to_regclass('public.accounts_id_idx')").fetchone()[0] == "accounts_id_idx"
    config = tmp_path / "healthcheck.yaml"
    config.write_text("databases:\n  - name: app\n    url_env: DATABASE_URL\nassertions:\n  - name: slow\n"
                      "    database: app\n    query: SELECT 0 FROM pg_sleep(2)\n    comparison: \"==\"\n"
                      "    threshold: 0\n    severity: HIGH\n    message: slow\n")
    health = cli(["healthcheck", "--json"], {"DATABASE_URL": url, "HEALTHCHECK_CONFIG": str(config),
                                             "CHECK_TIMEOUT": "1", "ALERTS_DIR": str(tmp_path / "alerts"),
                                             "LOG_DIR": str(tmp_path / "logs")}, tmp_path)
    slow = next(c for c in json.loads(health.stdout)["checks"] if c["check"] == "assertion:slow")
    assert health.exit_code == 3 and slow["status"] == "UNKNOWN"
    assert "timeout" in json.dumps(slow).lower()
