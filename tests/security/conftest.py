"""Shared fixtures of the security suite: one role with a distinctive password on the session's
password server, databases created once per module, hostile identifiers, and leak scanners."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.pg_server import PasswordServer, with_database

#: the role's password; '@' and '!' must be percent-encoded in a URL, so both spellings are hunted
SECRET_RAW = "Tr0ub4dor@Zeta-91!"
SECRET_URL = "Tr0ub4dor%40Zeta-91%21"
#: a wrong password, as typed by an operator
WRONG_URL = "Wr0ngPw%40Kappa-77"
#: fragments that must never appear anywhere (halves too: a mask that stops at '@' leaks the rest)
LEAK_MARKERS = ("Tr0ub4dor", "Zeta-91", "Wr0ngPw", "Kappa-77")
ROLE = "mg_sec"

#: identifiers that break naive quoting: a quote, an injection attempt, unicode and spaces, a keyword
HOSTILE_TABLES = ('a"b', "DROP TABLE x; --", "ünïcode table", "select")
HOSTILE_SCHEMA = "weird schema; DROP TABLE sentinel; --"
SENTINEL = "sentinel"


class SecretServer:
    """The password server seen through role ``mg_sec`` (password SECRET_RAW)."""

    def __init__(self, server: PasswordServer) -> None:
        self.server = server
        self.admin = server.url()
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(SECRET_RAW)))

    def url(self, dbname: str = "postgres", password: str = SECRET_URL) -> str:
        return f"postgresql://{ROLE}:{password}@127.0.0.1:{self.server.port}/{dbname}"

    def wrong_url(self, dbname: str = "postgres") -> str:
        return self.url(dbname, WRONG_URL)

    def create_database(self, prefix: str = "sec") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(ROLE)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def secret_server(password_server: PasswordServer) -> SecretServer:
    """The session's password server with the ``mg_sec`` role."""
    return SecretServer(password_server)


@pytest.fixture(scope="module")
def module_db_url(pg_admin_url: str) -> Iterator[str]:
    """A database on the main test server, shared by one module's tests (dropped afterwards)."""
    name = f"mg_sec_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def leaks(text: str, markers: Iterable[str] = LEAK_MARKERS) -> list[str]:
    """The secret fragments found in ``text``."""
    return [marker for marker in markers if marker in text]


def files_leaking(root: Path, markers: Iterable[str] = LEAK_MARKERS) -> dict[str, list[str]]:
    """Every file under ``root`` (binary too) that contains a secret fragment, with the fragments."""
    found: dict[str, list[str]] = {}
    if not root.exists():
        return found
    for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = [m for m in markers if m.encode() in data]
        if hits:
            found[str(path)] = hits
    return found


def assert_no_leak(*texts: str, where: str = "") -> None:
    """Fail naming the fragments when any text carries a secret."""
    for text in texts:
        assert not leaks(text), f"secret in {where or 'output'}: {leaks(text)}\n{text[-3000:]}"
