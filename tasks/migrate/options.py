"""The switches and limits of one safe-migrate run, and how they are read from the settings.

Each field names the setting (environment variable) it defaults to; the CLI options and the
``safe-migrate`` flow parameters override them (``options_from_settings``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration_guard.tasks.durations import postgres_duration_seconds
from migration_guard.tasks.migrate.apply import ApplyOptions
from migration_guard.tasks.migrate.hooks import parse_commands
from migration_guard.tasks.migrate.timeouts import validate_statement_timeout
from migration_guard.tasks.settings import Settings


@dataclass
class SafeMigrateOptions:
    """Switches and limits of one safe-migrate run.

    Attributes:
        apply: timeouts and budgets of the apply step (LOCK_TIMEOUT, STATEMENT_TIMEOUT,
            MIGRATE_RETRY_BUDGET, MIGRATE_LOCK_WAIT, CONNECT_TIMEOUT).
        validate: run the validate checks first (``--validate/--skip-validate``; flow ``validation``).
        backup: take and verify a pg_dump first (``--backup/--skip-backup``).
        backup_scope: what that backup holds (BACKUP_SCOPE): ``auto`` (scoped when the database is
            at least 1 GiB, else full), ``scoped`` (the whole schema plus the data of the tables the
            pending migrations touch) or ``full``.
        strict: a validation WARN stops the run like a FAIL (``--strict``).
        restore_check: verify the backup by restoring it into a scratch database.
        on_failure: ``report`` or ``restore`` (the pre-migrate backup, after a post-commit failure).
        hooks: post-migrate commands as argv lists (POST_MIGRATE_HOOKS).
        hook_timeout_s: seconds each hook may run (HOOK_TIMEOUT).
        startup_check_command: command that must exit 0 (STARTUP_CHECK_COMMAND).
        startup_check_url: URL that must answer 2xx (STARTUP_CHECK_URL).
        startup_check_timeout_s: seconds the start-up check may take (STARTUP_CHECK_TIMEOUT).
        validate_constraints: VALIDATE constraints added NOT VALID, during verification.
        cwd: working directory of the hooks and the start-up command (None: the current one).
        allow: lint rules whose blocking findings are acknowledged for this run (``--allow RULE``):
            they do not stop it and the report lists each one.
    """

    apply: ApplyOptions = field(default_factory=ApplyOptions)
    validate: bool = True
    backup: bool = True
    backup_scope: str = "auto"  # "auto" | "scoped" | "full"
    strict: bool = False
    restore_check: bool = False
    on_failure: str = "report"  # "report" | "restore"
    hooks: list[list[str]] = field(default_factory=list)
    hook_timeout_s: float = 300.0
    startup_check_command: str | None = None
    startup_check_url: str | None = None
    startup_check_timeout_s: float = 60.0
    validate_constraints: bool = False
    cwd: Path | None = None
    allow: tuple[str, ...] = ()

    @property
    def startup_check(self) -> str | None:
        """The start-up check as configured (the command, else the URL), None when there is none."""
        return self.startup_check_command or self.startup_check_url


def options_from_settings(settings: Settings, **overrides: Any) -> SafeMigrateOptions:
    """SafeMigrateOptions from Settings, with explicit values (None = not given) taking precedence.

    ``overrides`` are SafeMigrateOptions fields, plus the ApplyOptions fields ``lock_timeout``,
    ``statement_timeout``, ``retry_budget_s`` and ``lock_wait_s``; ``hooks`` may be argv lists or
    a POST_MIGRATE_HOOKS-style string.

    Raises:
        ConfigError: a malformed duration or hook list.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    lock_timeout = given.pop("lock_timeout", settings.lock_timeout)
    statement_timeout = given.pop("statement_timeout", settings.statement_timeout)
    postgres_duration_seconds(lock_timeout, name="LOCK_TIMEOUT")
    validate_statement_timeout(statement_timeout)
    apply = ApplyOptions(
        lock_timeout=lock_timeout, statement_timeout=statement_timeout,
        retry_budget_s=float(given.pop("retry_budget_s", settings.migrate_retry_budget)),
        lock_wait_s=float(given.pop("lock_wait_s", settings.migrate_lock_wait)),
        connect_timeout=settings.connect_timeout,
    )
    if "allow" in given:
        given["allow"] = allowed_rules(given["allow"])
    hooks = given.pop("hooks", None)
    if hooks is None:
        hooks = parse_commands(settings.post_migrate_hooks)
    elif isinstance(hooks, str):
        hooks = parse_commands(hooks)
    return SafeMigrateOptions(
        apply=apply, hooks=[list(h) for h in hooks],
        hook_timeout_s=float(given.pop("hook_timeout_s", settings.hook_timeout)),
        startup_check_command=given.pop("startup_check_command", settings.startup_check_command),
        startup_check_url=given.pop("startup_check_url", settings.startup_check_url),
        startup_check_timeout_s=float(given.pop("startup_check_timeout_s", settings.startup_check_timeout)),
        backup_scope=_backup_scope(given.pop("backup_scope", settings.backup_scope)),
        **given,
    )


def _backup_scope(value: str) -> str:
    """BACKUP_SCOPE checked (``auto``, ``scoped`` or ``full``).

    Raises:
        ConfigError: any other value.
    """
    from migration_guard.tasks.backup.scope import SCOPES
    from migration_guard.tasks.errors import ConfigError

    if value not in SCOPES:
        raise ConfigError(f"BACKUP_SCOPE / --backup-scope: expected one of {', '.join(SCOPES)}, got {value!r}",
                          "use auto (scoped at 1 GiB and above), scoped or full")
    return value


def allowed_rules(values: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``--allow`` values (repeatable, comma-separated) as known lint rule codes.

    Raises:
        ConfigError: a name that is no lint rule (the message lists the policy rules).
    """
    from migration_guard.tasks.errors import ConfigError
    from migration_guard.tasks.lint.registry import all_rules, get_rule

    items = [values] if isinstance(values, str) else list(values)
    codes = tuple(dict.fromkeys(c.strip() for item in items for c in item.split(",") if c.strip()))
    unknown = [c for c in codes if get_rule(c) is None]
    if unknown:
        policy = ", ".join(sorted(r.code for r in all_rules() if r.policy))
        raise ConfigError(f"--allow: no lint rule named {', '.join(unknown)}",
                          f"name a rule as lint prints it, e.g. --allow ban-drop-column (policy rules: {policy})")
    return codes
