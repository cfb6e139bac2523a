"""DATABASE_PASSWORD: a password kept apart from DATABASE_URL (docker compose, secret stores) is
used as is, whatever characters it holds, and never shown."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from migration_guard.tasks.db import dsn_with_password
from migration_guard.tasks.errors import ConfigError
from tests.helpers import make_prisma_project, run_cli

HARD_PASSWORD = "p@ss/w?rd#with 'quotes' \\ and:colons%41"


def test_a_url_and_a_keyword_dsn_get_the_password_quoted_as_they_need() -> None:
    from psycopg.conninfo import conninfo_to_dict

    for dsn in ("postgresql://app@db:5432/prod?sslmode=disable", "postgresql://db/prod",
                "host=db port=5432 user=app dbname=prod"):
        assert conninfo_to_dict(dsn_with_password(dsn, HARD_PASSWORD))["password"] == HARD_PASSWORD


def test_two_passwords_are_refused() -> None:
    with pytest.raises(ConfigError, match="already carries a password") as raised:
        dsn_with_password("postgresql://app:x@db/prod", "y")
    assert "keep one" in raised.value.suggestion


def test_status_connects_with_a_separate_password_that_holds_every_special_character(password_server, tmp_path: Path) -> None:
    role = "mg_pw_role"
    with psycopg.connect(password_server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(sql.Identifier(role), sql.Literal(HARD_PASSWORD)))
    make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE t (id int);\n"})
    env = {"DATABASE_URL": f"postgresql://{role}@127.0.0.1:{password_server.port}/postgres",
           "DATABASE_PASSWORD": HARD_PASSWORD}
    result = run_cli(["status"], env=env, cwd=tmp_path)
    assert result.exit_code == 1, result.output
    assert "p@ss" not in result.output and "w?rd" not in result.output
    wrong = run_cli(["status"], env={**env, "DATABASE_PASSWORD": "n0t-the-Passw0rd"}, cwd=tmp_path)
    assert wrong.exit_code == 3 and "password" in wrong.output and "n0t-the-Passw0rd" not in wrong.output


def test_an_unencoded_password_is_refused_and_the_advised_database_password_connects(password_server, tmp_path: Path) -> None:
    role, password = "mg_pw_hash", "p@ss#word"
    with psycopg.connect(password_server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE t (id int);\n"})
    where = f"127.0.0.1:{password_server.port}/postgres"
    env = {"ALERTS_DIR": str(tmp_path / "alerts"), "LOG_DIR": str(tmp_path / "logs")}
    for args, code in ((["status"], 3), (["migrate"], 2)):
        refused = run_cli(args, env={**env, "DATABASE_URL": f"postgresql://{role}:{password}@{where}"}, cwd=tmp_path)
        assert refused.exit_code == code, refused.output
        assert "ss#word" not in refused.output and "p@ss" not in refused.output, refused.output
        assert "DATABASE_URL does not parse" in refused.output and "DATABASE_PASSWORD" in refused.output
        assert "%40" in refused.output and "%23" in refused.output, refused.output
    assert not (tmp_path / "alerts").exists() or not any((tmp_path / "alerts").rglob("*.json"))
    # both fixes the message gives work against a server that checks the password
    for fixed in ({"DATABASE_URL": f"postgresql://{role}@{where}", "DATABASE_PASSWORD": password},
                  {"DATABASE_URL": f"postgresql://{role}:p%40ss%23word@{where}"}):
        result = run_cli(["status"], env={**env, **fixed}, cwd=tmp_path)
        assert result.exit_code == 1, result.output
        assert "ss#word" not in result.output and "p%40ss" not in result.output, result.output
