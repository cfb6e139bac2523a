"""`migration-guard backup create | list | verify | restore`: verified pg_dump backups."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from migration_guard.cli.output import console, err_console, handle_errors, print_json

backup_app = typer.Typer(
    help=(
        "Verified backups with the real pg_dump / pg_restore (client major version >= the server's).\n\n"
        "Backups go to --backup-dir (default $BACKUP_DIR, else ./backups) with a JSON metadata file "
        "beside each dump. Exit codes: 0 success; 1 the operation failed; 2 bad usage or configuration."
    ),
    no_args_is_help=True,
)

BACKUP_DIR_HELP = "Backup folder (default: $BACKUP_DIR, else ./backups)."


def _backup_dir(options, given: Path | None) -> Path:
    return Path(given) if given is not None else Path(options.settings().backup_dir)


@backup_app.command("create")
def create(
    ctx: typer.Context,
    reason: str = typer.Option("manual", "--reason", "-r", help="Why: stored in metadata and the file name (e.g. pre-migrate)."),
    fmt: str = typer.Option("auto", "--format", "-F",
                            help="auto (custom below 64 MiB of table data, else directory with parallel jobs), custom, directory."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Parallel dump jobs for directory format (default: cores)."),
    compression: Optional[int] = typer.Option(None, "--compress", "-Z", min=0, max=9, help="gzip level 0-9 (default 1)."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help=BACKUP_DIR_HELP, show_default=False),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Verify the new backup (table of contents, checksum, every data block read back)."),
    restore_check: bool = typer.Option(False, "--restore-check", help="Also restore it into a scratch database and compare per-table row counts."),
    as_json: bool = typer.Option(False, "--json", help="Print the backup's metadata as JSON."),
    tables: Optional[list[str]] = typer.Option(None, "--table", "-t", help="Scoped backup: the whole schema plus the data of this table only (repeatable; table or schema.table). Default: every table's data."),
) -> None:
    """Dump the database (DATABASE_URL) with pg_dump, write metadata beside it, verify it.

    With --table (repeatable) the backup is scoped: every table's definition, the data of the named tables and every sequence's value (one pg_dump, one snapshot). safe-migrate and recover choose their scope themselves (BACKUP_SCOPE=auto|scoped|full).

    The dump is written under a temporary name and renamed when complete (mode 0600); free disk is checked against an estimate first; on any failure nothing is left behind. The password reaches pg_dump only through PGPASSWORD.

    Exit codes: 0 backup written (and verified); 1 failed (tools, disk, database, verification); 2 bad usage or configuration; 130 / 143 interrupted by SIGINT / SIGTERM (pg_dump stopped, nothing left behind).
    """
    _create(ctx.obj, reason, fmt, jobs, compression, backup_dir, verify, restore_check, as_json, tables or [])


@handle_errors(error_exit_code=1, config_exit_code=2)
def _create(options, reason, fmt, jobs, compression, backup_dir, verify, restore_check, as_json, tables) -> None:
    from migration_guard.tasks.backup import create_backup, verify_backup
    from migration_guard.tasks.backup.sizing import FORMATS, format_bytes
    from migration_guard.tasks.errors import ConfigError

    if fmt not in FORMATS:
        raise ConfigError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    settings = options.settings()
    dsn = settings.require_database_url()
    folder = _backup_dir(options, backup_dir)
    head = _migration_head(options)
    scope = _named_scope(dsn, tables, settings.db_schema) if tables else None
    with _progress_display(enabled=not as_json) as progress:
        info = create_backup(dsn, folder, reason=reason, migration_head=head, fmt=fmt, jobs=jobs,
                             compression=compression, progress=progress, scope=scope)
    verified = None
    if verify or restore_check:
        with _spinner(f"verifying {info.path.name}", enabled=not as_json):
            verified = verify_backup(info.path, restore_check=restore_check, dsn=dsn)
        info.verified = True
    if as_json:
        data = info.to_dict()
        data["verify"] = verified.to_dict() if verified else None
        print_json(data)
        return
    rate = f", {info.mib_per_s:.0f} MiB/s of table data" if info.duration_s else ""
    console.print(f"backup [bold]{info.path}[/] ({info.format}, {format_bytes(info.size_bytes)}, "
                  f"{info.duration_s:.1f} s{rate}; covers: {info.covers()})", highlight=False)
    if info.restore_point:
        from migration_guard.tasks.backup.metadata import restore_point_line

        console.print(restore_point_line(info.restore_point), markup=False, highlight=False)
    for warning in info.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False)
    if verified:
        rows = f", {sum(verified.table_rows.values())} rows in {len(verified.table_rows)} tables match the source" if verified.restore_checked else ""
        console.print(f"[green]verified[/] ({verified.level}: {verified.toc_entries} entries, "
                      f"{verified.data_entries} with data{rows})")
    else:
        console.print("[yellow]not verified[/] (--no-verify); run: migration-guard backup verify " + str(info.path))


def _named_scope(dsn: str, names: list[str], default_schema: str):
    """A scoped BackupScope of the tables named with --table (each must exist)."""
    from migration_guard.tasks.backup.scope import BackupScope, TouchedTables, parse_table_name
    from migration_guard.tasks.backup.scoped import scope_for_change
    from migration_guard.tasks.db import connection
    from migration_guard.tasks.errors import ConfigError

    try:
        wanted = [parse_table_name(n, default_schema) for n in names]
    except ValueError as exc:
        raise ConfigError(f"--table: {exc}", "name a table as table or schema.table") from None
    with connection(dsn) as conn:
        scope: BackupScope = scope_for_change(conn, "scoped", TouchedTables(tables=wanted))
    missing = [f"{s}.{t}" for s, t in wanted if (s, t) not in scope.tables]
    if missing:
        raise ConfigError(f"--table: no such table {', '.join(missing)}",
                          "check the name: table or schema.table, mixed-case names in double quotes ('\"MyTable\"')")
    return BackupScope("scoped", scope.tables, ("--table: the tables named on the command line",), "scoped")


def _migration_head(options) -> str | None:
    """The last applied migration, when a migrations folder is configured and readable."""
    from migration_guard.tasks.errors import MigrationGuardError
    from migration_guard.tasks.status.pipeline import last_applied_migration

    try:
        project = options.project()
    except MigrationGuardError:
        return None
    return last_applied_migration(project)


class _progress_display:
    """Rich progress bar on a terminal (stderr), nothing otherwise; yields the progress callback."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and err_console.is_terminal
        self.progress = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                 TimeElapsedColumn(), console=err_console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("pg_dump", total=None)
        return self.update

    def update(self, update) -> None:
        assert self.progress is not None
        total = max(update.estimated_bytes, update.bytes_written) if update.phase == "dump" else update.bytes_written
        self.progress.update(self.task, completed=update.bytes_written, total=total or None,
                             description="pg_dump" if update.phase == "dump" else update.phase)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


class _spinner:
    def __init__(self, text: str, enabled: bool) -> None:
        self.status = err_console.status(text) if enabled and err_console.is_terminal else None

    def __enter__(self) -> None:
        if self.status is not None:
            self.status.start()

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.stop()


@backup_app.command("list")
def list_command(
    ctx: typer.Context,
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help=BACKUP_DIR_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the metadata of every backup as a JSON list."),
) -> None:
    """List backups (newest first) from the metadata files in the backup folder.

    Partial dumps are named on stderr too: one being written now (its pid), or one abandoned by a killed run (the next `backup create` removes it).

    Exit codes: 0 listed (also when there are none); 2 bad configuration.
    """
    _list(ctx.obj, backup_dir, as_json)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _list(options, backup_dir, as_json) -> None:
    from rich.table import Table

    from migration_guard.tasks.backup import list_backups
    from migration_guard.tasks.backup.sizing import format_bytes

    folder = _backup_dir(options, backup_dir)
    backups = list_backups(folder)
    _print_partials(folder)
    if as_json:
        print_json([{**b.to_dict(), "covers": b.covers()} for b in backups])
        return
    if not backups:
        console.print(f"no backups in {folder}\n  next: migration-guard backup create")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("created (UTC)", "database", "reason", "covers", "format", "size", "verified", "migration head", "file"):
        table.add_column(column, overflow="fold")
    for b in backups:
        verified = f"[green]{b.verify_level or 'yes'}[/]" if b.verified else "[yellow]no[/]"
        covers = b.covers() + (" + restore point" if b.restore_point else "")
        table.add_row(f"{b.created_at:%Y-%m-%d %H:%M:%S}", b.database, b.reason, covers, b.format,
                      format_bytes(b.size_bytes), verified, b.migration_head or "-", b.path.name)
    console.print(table)
    if any(b.scoped for b in backups):
        console.print("a scoped backup holds the whole schema but only the data of the tables it names "
                      "(`backup list --json` shows its scope and reasons); restoring it replaces only those tables")


def _print_partials(folder: Path) -> None:
    """One stderr line per partial dump: in progress, or abandoned (with the command removing it)."""
    import shlex

    from migration_guard.tasks.backup.files import partial_dumps
    from migration_guard.tasks.backup.sizing import format_bytes

    for partial in partial_dumps(folder):
        size = format_bytes(partial.size_bytes)
        if partial.writer_alive:
            who = f"pid {partial.writer_pid}" if partial.writer_pid else "a running pg_dump"
            err_console.print(f"in progress: {partial.path.name} ({size} so far, written by {who})",
                              markup=False, highlight=False)
        else:
            err_console.print(
                f"warning: abandoned partial dump {partial.path.name} ({size}, last written "
                f"{partial.modified:%Y-%m-%d %H:%M:%S} UTC) — not a backup, left by a killed run; the next "
                f"`migration-guard backup create` removes it, or now: rm -r {shlex.quote(str(partial.path))}",
                markup=False, highlight=False)


@backup_app.command("verify")
def verify_command(
    ctx: typer.Context,
    path: Optional[Path] = typer.Argument(None, help="The dump (file or .dumpdir folder); default: the newest backup."),
    restore_check: bool = typer.Option(False, "--restore-check",
                                       help="Restore into a scratch database on DATABASE_URL's server, compare per-table row counts with the source, drop it."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help=BACKUP_DIR_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the verification result as JSON."),
) -> None:
    """Prove a backup is restorable.

    Checks pg_restore --list, the sha256 against its metadata and reads every data block back; with --restore-check also restores it and compares per-table row counts with the source.

    Exit codes: 0 verified; 1 truncated, corrupt, mismatching or unrestorable; 2 bad usage.
    """
    _verify(ctx.obj, path, restore_check, backup_dir, as_json)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _verify(options, path, restore_check, backup_dir, as_json) -> None:
    from migration_guard.tasks.backup import verify_backup

    target = path if path is not None else _newest(options, backup_dir)
    dsn = options.settings().require_database_url() if restore_check else None
    with _spinner(f"verifying {target.name}", enabled=not as_json):
        result = verify_backup(target, restore_check=restore_check, dsn=dsn)
    if as_json:
        print_json(result.to_dict())
        return
    checksum = {True: "checksum matches metadata", False: "checksum MISMATCH", None: "no metadata file"}[result.checksum_ok]
    console.print(f"[green]verified[/] {target} ({result.level}): {result.toc_entries} entries, "
                  f"{result.data_entries} with data, {checksum}, all data readable, {result.duration_s:.1f} s")
    if result.restore_checked:
        console.print(f"restored into a scratch database: {len(result.table_rows)} tables, "
                      f"{sum(result.table_rows.values())} rows, counts equal to the source")


def _newest(options, backup_dir) -> Path:
    from migration_guard.tasks.backup import list_backups
    from migration_guard.tasks.errors import ConfigError

    folder = _backup_dir(options, backup_dir)
    backups = list_backups(folder)
    if not backups:
        raise ConfigError(f"no backups in {folder}", "pass the dump's path, or create one: migration-guard backup create")
    return backups[0].path


@backup_app.command("restore")
def restore_command(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The dump (file or .dumpdir folder)."),
    into: Optional[str] = typer.Option(None, "--into", help="Name of the NEW database to restore into (default <db>_restored_<timestamp>)."),
    replace: bool = typer.Option(False, "--replace", help="Restore OVER the database in DATABASE_URL (needs --yes)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm --replace: drop and recreate the objects in the backup."),
    as_json: bool = typer.Option(False, "--json", help="Print the result (or, without --yes, the plan) as JSON."),
) -> None:
    """Restore a backup into a new database, or over the live one with --replace --yes.

    By default the backup goes into a NEW database on DATABASE_URL's server. With --replace --yes it goes over the database itself: every object in the backup is dropped and recreated in one transaction (a failure changes nothing); objects not in the backup are left alone. --replace without --yes only prints exactly what would be replaced.

    Exit codes: 0 restored; 1 the restore failed; 2 bad usage (e.g. --replace without --yes); 130 / 143 interrupted by SIGINT / SIGTERM (pg_restore stopped: --replace rolls back, a new database is dropped).
    """
    _restore(ctx.obj, path, into, replace, yes, as_json)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _restore(options, path, into, replace, yes, as_json) -> None:
    from migration_guard.tasks.backup import plan_restore, restore_backup
    from migration_guard.tasks.errors import ConfigError

    dsn = options.settings().require_database_url()
    if replace and into:
        raise ConfigError("--replace and --into exclude each other", "use --into NAME for a new database, or --replace --yes")
    if replace:
        plan = plan_restore(path, dsn)
        if as_json and not yes:
            print_json(plan.to_dict())
        else:
            out = err_console if as_json else console
            for line in plan.describe():
                out.print(line, markup=False)
        if not yes:
            raise ConfigError("restoring over the live database needs --yes (nothing was changed)",
                              "re-run with --yes to replace the objects listed above, or use --into NAME for a new database")
    with _spinner(f"restoring {Path(path).name}", enabled=not as_json):
        result = restore_backup(path, dsn, into_new_database=into, replace_existing=replace)
    if as_json:
        print_json(result.to_dict())
        return
    how = "over" if result.replaced_existing else "into new database"
    console.print(f"[green]restored[/] {Path(path).name} {how} [bold]{result.database}[/] ({result.target}): "
                  f"{result.tables} tables, {result.duration_s:.1f} s")


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
