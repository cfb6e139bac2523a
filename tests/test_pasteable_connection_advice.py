"""The commands a connection error suggests carry the real host, port, user and database, and do
what they say when pasted (no HOST / PORT / NAME placeholders)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import uuid

import psycopg
import psycopg.sql
import pytest

from migration_guard.tasks.db import connect
from migration_guard.tasks.errors import MigrationGuardError


def _advice(dsn: str) -> str:
    with pytest.raises(MigrationGuardError) as raised:
        connect(dsn, connect_timeout=3)
    assert not re.search(r"\b(HOST|PORT|NAME)\b|<role>|<pid>", raised.value.suggestion), raised.value.suggestion
    return raised.value.suggestion


@pytest.mark.skipif(shutil.which("pg_isready") is None, reason="pg_isready is not installed")
def test_refused_port_advice_runs_pg_isready_on_that_port() -> None:
    advice = _advice("postgresql://postgres@127.0.0.1:1/app")
    command = shlex.split(advice.split("check with: ", 1)[1])
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert command[0] == "pg_isready" and done.returncode == 2 and "127.0.0.1:1" in done.stdout


@pytest.mark.skipif(shutil.which("createdb") is None, reason="createdb is not installed")
def test_missing_database_advice_creates_exactly_that_database(pg_admin_url: str) -> None:
    name = f"mg_advice_{uuid.uuid4().hex[:8]}"
    params = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    dsn = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    advice = _advice(dsn)
    command = shlex.split(re.search(r"\((createdb [^)]*)\)", advice).group(1))
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=30)
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == name
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {}").format(psycopg.sql.Identifier(name)))
    assert params.get("host", "127.0.0.1") in command
