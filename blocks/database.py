"""`PostgresDatabase`: a saved connection to one PostgreSQL database, with the password encrypted
at rest by Prefect (SecretStr) and masked everywhere it is shown."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import psycopg
from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, model_validator

from migration_guard.tasks.db import APPLICATION_NAME, connect, dsn_problem
from migration_guard.tasks.secrets import mask_dsn

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class PostgresDatabase(Block):
    """Connection settings for one PostgreSQL database.

    Give either ``dsn`` (a whole URL, kept secret) or the parts (host, port, database, user,
    password). Flows receive the block's name as ``database_block`` and read the URL from it.

    Example:
        ```python
        PostgresDatabase(host="db.internal", database="app", user="app",
                         password="...").save("production")
        ```
    """

    _block_type_name = "PostgreSQL Database"
    _block_type_slug = "migration-guard-postgres-database"
    _logo_url = "https://www.postgresql.org/media/img/about/press/elephant.png"  # type: ignore[assignment]
    _description = "A PostgreSQL database watched and migrated by migration-guard."
    # a ValidationError's text would otherwise quote the raw input (the dsn and its password)
    model_config = ConfigDict(hide_input_in_errors=True)

    dsn: SecretStr | None = Field(
        default=None,
        description="Whole PostgreSQL URL (postgresql://user:password@host:5432/db). Overrides the parts below.",
    )
    host: str | None = Field(default=None, description="Server host name or address.")
    port: int = Field(default=5432, ge=1, le=65535, description="Server port.")
    database: str | None = Field(default=None, description="Database name.")
    user: str | None = Field(default=None, description="Role to connect as.")
    password: SecretStr | None = Field(default=None, description="Password (encrypted at rest by Prefect).")
    sslmode: SslMode | None = Field(default=None, description="libpq sslmode (require in production).")
    connect_timeout: int = Field(default=5, ge=1, le=300, description="Seconds before a connection attempt gives up.")
    application_name: str = Field(
        default=APPLICATION_NAME, description="Shown in pg_stat_activity, so DBAs can tell who holds a lock."
    )

    @model_validator(mode="after")
    def _dsn_or_parts(self) -> PostgresDatabase:
        if self.dsn is None and not (self.host and self.database):
            raise ValueError("give either dsn, or at least host and database")
        if self.dsn is not None:
            dsn = self.dsn.get_secret_value()
            if not dsn.startswith(("postgresql://", "postgres://")):
                raise ValueError("dsn must be a postgresql:// URL (the value is not shown: it may hold a password)")
            problem = dsn_problem(dsn)
            if problem is not None:
                raise ValueError(f"dsn: {problem}")
        return self

    def url(self) -> SecretStr:
        """The connection URL (with the password), still wrapped as a secret."""
        if self.dsn is not None:
            url = self.dsn.get_secret_value()
        else:
            credentials = ""
            if self.user:
                credentials = quote(self.user, safe="")
                if self.password is not None:
                    credentials += ":" + quote(self.password.get_secret_value(), safe="")
                credentials += "@"
            url = f"postgresql://{credentials}{self.host}:{self.port}/{quote(self.database or '', safe='')}"
        if self.sslmode:
            url += ("&" if "?" in url else "?") + f"sslmode={self.sslmode}"
        return SecretStr(url)

    @property
    def masked_url(self) -> str:
        """The URL with its password replaced, safe to print."""
        return mask_dsn(self.url().get_secret_value())

    def connect(self, *, autocommit: bool = True, **options: Any) -> psycopg.Connection:
        """A psycopg 3 connection to this database (timeout and application name applied).

        Raises:
            DatabaseError: classified by SQLSTATE (connection, permission, timeout ...).
        """
        return connect(
            self.url().get_secret_value(),
            connect_timeout=self.connect_timeout,
            autocommit=autocommit,
            application_name=self.application_name,
            **options,
        )

    def settings_values(self) -> dict[str, Any]:
        """The Settings fields this block provides (secrets stay SecretStr)."""
        return {"database_url": self.url(), "connect_timeout": self.connect_timeout}
