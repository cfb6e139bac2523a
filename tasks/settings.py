"""One settings model for every command and flow.

Values come from environment variables (``DATABASE_URL``, ``MIGRATIONS_DIR`` ...), overridden by
CLI options; Prefect blocks resolve into the same model (see ``blocks/``). Validation happens here,
at the edge, and produces one clear line naming the variable; nothing deeper re-checks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.secrets import mask_dsn

MigrationTool = Literal["prisma", "sql"]


class Settings(BaseSettings):
    """Everything migration-guard needs to know about one project and its database."""

    # hide_input_in_errors: a ValidationError's text would quote the raw value (a URL and its password)
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL of the application database (DATABASE_URL)."
    )
    database_password: SecretStr | None = Field(
        default=None,
        description="Password for DATABASE_URL when the URL carries none (DATABASE_PASSWORD): taken as is, "
        "no URL-encoding needed (docker compose, secret stores).",
    )
    migrations_dir: Path | None = Field(
        default=None,
        description="Folder of migrations: prisma/migrations or a folder of .sql files (MIGRATIONS_DIR).",
    )
    migration_tool: MigrationTool | None = Field(
        default=None, description="prisma | sql; detected from the migrations folder when unset."
    )
    environment: str = Field(default="development", description="Name shown in alerts (ENVIRONMENT).")
    backup_dir: Path = Field(default=Path("backups"), description="Where backups go (BACKUP_DIR).")
    backup_scope: Literal["auto", "scoped", "full"] = Field(
        default="auto",
        description="What pre-change backups (safe-migrate, recover) hold (BACKUP_SCOPE): scoped = the whole schema "
        "plus the data of the tables the change touches; full = every table; auto = scoped when the database is "
        "at least 1 GiB, else full.",
    )
    auto_recover: Literal["off", "safe"] = Field(
        default="off",
        description="What the healthcheck repairs on its own (AUTO_RECOVER): off = alert only, with the command to run; "
        "safe = end an idle session holding the migration lock past the stale_migration_lock threshold, rebuild (or "
        "drop) an INVALID index a failed CREATE INDEX CONCURRENTLY left, mark rolled back a failed migration of which "
        "nothing ran, recover forward a failed migration whose cause is gone; each action alerted before and after.",
    )
    auto_recover_recheck: float = Field(
        default=3600.0, ge=0,
        description="Seconds before AUTO_RECOVER=safe diagnoses again a failed migration it left alone, when neither "
        "its file nor its ledger row changed (AUTO_RECOVER_RECHECK; a diagnosis replays the earlier migrations in a "
        "shadow database).",
    )
    alerts_dir: Path = Field(default=Path("logs/alerts"), description="Alert JSON files (ALERTS_DIR).")
    log_dir: Path = Field(default=Path("logs"), description="Log files (LOG_DIR).")
    db_schema: str = Field(
        default="public", alias="DB_SCHEMA", description="Schema the migrations target (DB_SCHEMA)."
    )
    connect_timeout: int = Field(default=5, ge=1, le=300, description="Seconds (CONNECT_TIMEOUT).")
    lock_timeout: str = Field(
        default="500ms",
        description="lock_timeout per attempt of a migration statement (LOCK_TIMEOUT): the longest any query queues behind the migration's lock; a timed-out attempt is retried within MIGRATE_RETRY_BUDGET.",
    )
    statement_timeout: str = Field(
        default="inherit",
        description="statement_timeout for migration statements: a duration, 0 = none, or inherit = keep "
        "the role's / database's own setting (STATEMENT_TIMEOUT).",
    )
    slack_webhook_url: SecretStr | None = Field(default=None, description="Slack incoming webhook.")
    slack_bot_token: SecretStr | None = Field(default=None, description="Slack bot token.")
    slack_channel: str | None = Field(default=None, description="Slack channel for the bot token.")
    alert_webhook_url: SecretStr | None = Field(default=None, description="Generic JSON webhook.")
    shadow_database_url: SecretStr | None = Field(
        default=None,
        description="Disposable database for drift checks when the role cannot CREATEDB (SHADOW_DATABASE_URL).",
    )
    slack_api_url: str | None = Field(
        default=None, description="Slack Web API base URL for the bot token (SLACK_API_URL; default Slack's)."
    )
    alert_repeat_interval: int = Field(
        default=4 * 3600, ge=60, description="Seconds between reminders of a still-firing alert (ALERT_REPEAT_INTERVAL)."
    )
    healthcheck_config: Path | None = Field(
        default=None, description="YAML/JSON file: databases, thresholds, freshness checks, assertions (HEALTHCHECK_CONFIG)."
    )
    check_timeout: int = Field(
        default=5, ge=1, le=300, description="Seconds one health-check query may run (CHECK_TIMEOUT)."
    )
    alerts_api_token: SecretStr | None = Field(
        default=None, description="Bearer token for DELETE on the serve endpoint (ALERTS_API_TOKEN)."
    )
    migrate_retry_budget: float = Field(
        default=60.0, ge=0, description="Seconds `migrate` keeps retrying a statement that hits lock_timeout (MIGRATE_RETRY_BUDGET)."
    )
    migrate_lock_wait: float = Field(
        default=60.0, ge=0, description="Seconds `migrate` waits for the migration advisory lock (MIGRATE_LOCK_WAIT)."
    )
    post_migrate_hooks: str | None = Field(
        default=None,
        description="Commands run after migrating: a JSON list of argv lists, or ';'-separated commands (POST_MIGRATE_HOOKS).",
    )
    hook_timeout: float = Field(default=300.0, gt=0, description="Seconds each post-migrate hook may run (HOOK_TIMEOUT).")
    startup_check_command: str | None = Field(
        default=None, description="Command that must exit 0 once the app starts on the new schema (STARTUP_CHECK_COMMAND)."
    )
    startup_check_url: str | None = Field(
        default=None, description="URL that must answer 2xx once the app runs on the new schema (STARTUP_CHECK_URL)."
    )
    startup_check_timeout: float = Field(
        default=60.0, gt=0, description="Seconds the start-up check may take (STARTUP_CHECK_TIMEOUT)."
    )
    state_dir: Path | None = Field(
        default=None,
        description="Folder of the embedded health-history store, history.sqlite3 (STATE_DIR; default LOG_DIR/state).",
    )
    state_database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of a database for the health history instead of STATE_DIR (STATE_DATABASE_URL).",
    )
    history_retention_days: float = Field(
        default=35.0, ge=1, description="Days of health history kept; maintenance prunes older rows (HISTORY_RETENTION_DAYS)."
    )

    database_size_limit: int | None = Field(
        default=None, gt=0,
        description="The size a watched database may grow to, e.g. 200GB (its disk or storage plan; PostgreSQL shows "
        "no free disk to SQL); the capacity forecast says when it is reached (DATABASE_SIZE_LIMIT; kB/MB/GB/TB are "
        "1024-based as in PostgreSQL).",
    )

    @field_validator("database_size_limit", mode="before")
    @classmethod
    def _size_in_bytes(cls, value: Any) -> Any:
        return parse_size(value) if isinstance(value, str) else value

    @field_validator("database_url", "state_database_url", "shadow_database_url")
    @classmethod
    def _database_url_is_postgres(cls, value: SecretStr | None) -> SecretStr | None:
        """A connection string libpq accepts, checked here so that a typo is a configuration error
        before anything connects or alerts; the message never shows any part of the password."""
        if value is None or not value.get_secret_value().strip():
            return None
        from migration_guard.tasks.db import dsn_problem

        url = value.get_secret_value().strip()
        problem = dsn_problem(url)
        if problem is not None:
            raise ValueError(problem)
        return SecretStr(url)

    @field_validator("migration_tool", mode="before")
    @classmethod
    def _empty_tool_is_auto(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return value or None
        return value

    def require_database_url(self) -> str:
        """The database URL, or a ConfigError that tells the user how to set it."""
        if self.database_url is None:
            raise ConfigError(
                "DATABASE_URL is not set: export DATABASE_URL=postgresql://user:password@host:5432/dbname "
                "or pass --database-url"
            )
        url = self.database_url.get_secret_value()
        if self.database_password is not None and self.database_password.get_secret_value():
            from migration_guard.tasks.db import dsn_with_password

            url = dsn_with_password(url, self.database_password.get_secret_value())
        return url

    def found_migrations_dir(self) -> Path | None:
        """MIGRATIONS_DIR, else the default every command uses: ``./prisma/migrations``, else
        ``./migrations`` when it exists; None when there is neither."""
        if self.migrations_dir is not None:
            return self.migrations_dir
        for candidate in (Path("prisma/migrations"), Path("migrations")):
            if candidate.is_dir():
                return candidate
        return None

    def require_migrations_dir(self) -> Path:
        """The migrations folder, checked to exist, or a ConfigError saying what to do."""
        directory = self.migrations_dir
        if directory is None:
            found = self.found_migrations_dir()
            if found is not None:
                return found
            raise ConfigError(
                "MIGRATIONS_DIR is not set and neither ./prisma/migrations nor ./migrations exists: "
                "export MIGRATIONS_DIR=path/to/migrations or pass --migrations-dir"
            )
        if not directory.exists():
            raise ConfigError(f"MIGRATIONS_DIR {str(directory)!r} does not exist: create it or fix the path")
        if not directory.is_dir():
            raise ConfigError(f"MIGRATIONS_DIR {str(directory)!r} is not a folder: point it at the migrations folder")
        return directory

    @property
    def masked_database_url(self) -> str:
        """The database URL with its password replaced, safe for logs and alerts."""
        return mask_dsn(self.database_url.get_secret_value()) if self.database_url else "<unset>"


_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "database_password": "DATABASE_PASSWORD",
    "migrations_dir": "MIGRATIONS_DIR",
    "migration_tool": "MIGRATION_TOOL",
    "db_schema": "DB_SCHEMA",
}


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment plus explicit overrides (None values are ignored).

    Raises:
        ConfigError: one line naming the offending variable and what is expected.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc)) from None


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
               "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4, "tb": 1024**4, "tib": 1024**4}


def parse_size(text: str) -> int | None:
    """Bytes of ``200GB`` / ``1.5 TiB`` / ``500000000`` (units 1024-based, as PostgreSQL's); None
    for an empty value. Raises ValueError naming the accepted units."""
    value = text.strip().replace("_", "").replace(",", "")
    if not value:
        return None
    number = value.rstrip("bBkKmMgGtTiI ")
    unit = value[len(number):].strip().lower()
    try:
        if unit not in _SIZE_UNITS:
            raise ValueError
        return int(float(number) * _SIZE_UNITS[unit])
    except ValueError:
        raise ValueError(f"expected a size like 200GB, 1.5TB or a number of bytes, got {text!r}") from None


def _describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    variable = _ENV_NAMES.get(field, field.upper())
    message = first["msg"].removeprefix("Value error, ")
    if message.startswith("does not parse"):
        return f"{variable} {message}"
    if first["type"] == "literal_error" and field == "backup_scope":
        message = f"expected one of auto, scoped, full, got {first['input']!r}"
    elif first["type"] == "literal_error" and field == "auto_recover":
        message = f"expected one of off, safe, got {first['input']!r}"
    elif first["type"] == "literal_error":
        message = f"expected one of prisma, sql (or unset to detect it), got {first['input']!r}"
    elif first["type"] in {"int_parsing", "greater_than_equal", "less_than_equal"}:
        message = f"{message}, got {first['input']!r}"
    return f"{variable}: {message}"
