"""A project = settings + the ledger for its tool + its database, and the two reads every workflow
builds on (the migrations on disk, the ledger rows); their join is ``tasks/status``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from psycopg import conninfo as pg_conninfo

from migration_guard.tasks.db import connection, describe_target, libpq_dsn, schema_from_dsn
from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.ledgers import Ledger, get_ledger
from migration_guard.tasks.models import LedgerEntry, Migration
from migration_guard.tasks.settings import Settings
from migration_guard.tasks.sql.identifiers import quoted as quoted_identifier


def with_search_path(dsn: str, schema: str) -> str:
    """``dsn`` whose sessions start with ``search_path`` = ``schema`` (what Prisma does for
    ``?schema=``), so migrations create their objects where the ledger and the diagnosis look.

    ``public`` is PostgreSQL's default and leaves the DSN untouched.
    """
    if schema == "public":
        return dsn
    option = "-c search_path=" + quoted_identifier(schema).replace("\\", "\\\\").replace(" ", "\\ ")
    existing = pg_conninfo.conninfo_to_dict(libpq_dsn(dsn)).get("options") or ""
    combined = f"{existing} {option}".strip()
    if "://" in dsn:
        separator = "&" if "?" in dsn else "?"
        return f"{dsn}{separator}options={quote(combined, safe='')}" if not existing else (
            pg_conninfo.make_conninfo(libpq_dsn(dsn), options=combined))
    return pg_conninfo.make_conninfo(dsn, options=combined)


@dataclass(frozen=True)
class Project:
    """Resolved configuration of one migration project against one database."""

    settings: Settings
    ledger: Ledger
    dsn: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Project:
        """Resolve the migrations folder, the tool and the schema; validate what is needed.

        Raises:
            ConfigError: DATABASE_URL unset, migrations folder missing, tool undetectable or
                contradicted by the folder, DB_SCHEMA contradicting the URL's ``?schema=``.
        """
        dsn = settings.require_database_url()
        directory = settings.require_migrations_dir()
        schema = settings.db_schema
        url_schema = schema_from_dsn(dsn)
        if "db_schema" not in settings.model_fields_set:
            schema = url_schema or schema
        elif url_schema is not None and url_schema != schema:
            raise ConfigError(
                f"DB_SCHEMA={schema} disagrees with ?schema={url_schema} in DATABASE_URL (the schema Prisma uses): "
                "the two would read different ledgers",
                f"unset DB_SCHEMA (the URL's ?schema={url_schema} is used), or change ?schema= in DATABASE_URL",
            )
        ledger = get_ledger(settings.migration_tool, directory, schema)
        return cls(settings=settings, ledger=ledger, dsn=with_search_path(dsn, schema))

    @property
    def migrations_dir(self) -> Path:
        return self.ledger.migrations_dir

    @property
    def target(self) -> str:
        """host:port/dbname, safe to print."""
        return describe_target(self.dsn)

    @property
    def schema(self) -> str:
        return self.ledger.schema


def read_ledger(project: Project) -> tuple[bool, list[LedgerEntry]]:
    """(table exists, rows) from the project's database."""
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        exists = project.ledger.table_exists(conn)
        return exists, project.ledger.read_entries(conn) if exists else []


def read_migrations(project: Project) -> list[Migration]:
    """The project's migrations on disk, in apply order."""
    return project.ledger.read_migrations()
