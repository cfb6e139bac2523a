"""Restoring a backup: into a new database by default; over the live database only when asked,
in one transaction, after saying exactly which objects will be replaced. SIGINT / SIGTERM stop
pg_restore: over the live database its one transaction rolls back (nothing changed); a new
database is dropped again."""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from migration_guard.tasks import interrupts
from migration_guard.tasks.backup.archive import ArchiveObject, archive_objects, list_archive, write_use_list
from migration_guard.tasks.backup.client import ClientConnection, client_connection, run_tool
from migration_guard.tasks.backup.errors import BackupError, BackupNotFoundError
from migration_guard.tasks.backup.files import remove_path
from migration_guard.tasks.backup.metadata import BackupInfo, read_metadata
from migration_guard.tasks.backup.scratch import (
    create_database,
    database_exists,
    drop_database,
    dsn_for_database,
    row_counts,
    user_tables,
)
from migration_guard.tasks.backup.tools import PgTools, find_tools
from migration_guard.tasks.db import connection, database_name, describe_target

_log = logging.getLogger("migration_guard.backup")

@dataclass
class RestorePlan:
    """What a restore over an existing database will do.

    Attributes:
        replaced_tables: ``schema.table`` -> current row count, for tables the backup will drop
            and recreate with its own rows.
        created_tables: tables in the backup that the target does not have.
        objects: how many archive objects of each kind will be (re)created.
        untouched_tables: tables in the target that are not in the backup (left as they are).
    """

    database: str
    target: str
    backup: str
    replaced_tables: dict[str, int] = field(default_factory=dict)
    created_tables: list[str] = field(default_factory=list)
    objects: dict[str, int] = field(default_factory=dict)
    untouched_tables: list[str] = field(default_factory=list)
    #: a scoped backup: only its tables (and their objects) are replaced
    scoped: bool = False
    #: tables the change (that the scoped backup was taken for) created: dropped by the restore
    dropped_tables: list[str] = field(default_factory=list)
    #: a scoped restore's first statements (same transaction): what is dropped to clear the way
    clearing: list[str] = field(default_factory=list)
    #: views / foreign keys on scoped tables made after the backup, re-created after the restore
    kept_since: list[str] = field(default_factory=list)
    #: the ones made after the backup that the restore removes, with why (made by the change)
    dropped_since: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> list[str]:
        """Human lines, one per fact, for the confirmation prompt."""
        lines = [f"restore {self.backup} OVER database {self.database} at {self.target}, in one transaction:"]
        if self.scoped:
            lines.append("  (a scoped backup: only the tables below and their indexes, constraints, triggers, owned "
                         "sequences and dependent views are replaced; no other table is dropped or written)")
        for table, rows in self.replaced_tables.items():
            lines.append(f"  replace table {table} (its {rows} current row(s) are dropped and replaced)")
        for table in self.created_tables:
            lines.append(f"  create table {table}")
        for table in self.dropped_tables:
            lines.append(f"  drop table {table} (created by the change after this backup; its rows are lost)")
        others = ", ".join(f"{count} {kind.lower()}" for kind, count in sorted(self.objects.items()) if kind not in {"TABLE", "TABLE DATA"})
        if others:
            lines.append(f"  drop and recreate: {others}")
        if self.clearing:
            lines.append("  first, in the same transaction (objects made after the backup would block it; the backup's "
                         "own are re-created, and the kept ones below):")
            lines.extend(f"    {statement}" for statement in self.clearing)
        if self.kept_since:
            lines.append("  kept (made after the backup; re-created from their current definitions in the same "
                         "transaction): " + ", ".join(self.kept_since))
        lines.extend(f"  not kept: {note}" for note in self.dropped_since)
        if self.untouched_tables:
            lines.append(f"  left untouched (not in the backup): {', '.join(self.untouched_tables)}")
        return lines


@dataclass
class RestoreResult:
    """Where a backup was restored and how long it took."""

    database: str
    target: str
    replaced_existing: bool
    duration_s: float
    tables: int
    #: a scoped restore over the live database: views / foreign keys made after the backup it
    #: re-created, and the ones it did not keep (why)
    kept_since: list[str] = field(default_factory=list)
    dropped_since: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tools_for_server(dsn: str) -> PgTools:
    with connection(dsn) as conn:
        return find_tools(int(conn.info.server_version) // 10000, str(conn.info.parameter_status("server_version") or ""))


def restored_objects(objects: list[ArchiveObject], info: BackupInfo | None, *, over_live: bool) -> list[ArchiveObject]:
    """The archive entries a restore replays: all of a full backup; of a scoped one, over the live
    database only its scope's entries (its tables, their objects, the foreign keys into them),
    into a new database all but the foreign keys to tables whose data it does not hold."""
    if info is None or not info.scoped:
        return objects
    scope = info.scope or {}
    if over_live:
        keep = set(scope.get("restore_entries", []))
        return [o for o in objects if o.dump_id in keep]
    skip = set(scope.get("skip_in_new_database", []))
    return [o for o in objects if o.dump_id not in skip]


def _with_missing_dependencies(objects: list[ArchiveObject], chosen: list[ArchiveObject], dsn: str) -> list[ArchiveObject]:
    """``chosen`` plus the archive's schemas, types, domains, functions, procedures and aggregates
    that the live database no longer has (the change dropped them; the scoped tables, their
    defaults and triggers may need them back), in archive order."""
    with connection(dsn) as conn:
        conn.execute("SELECT pg_catalog.set_config('search_path', '', false)")  # types named as pg_dump names them
        types = {(r[0], r[1]) for r in conn.execute(
            "SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace")}
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
        routines = {(r[0], r[1]) for r in conn.execute(
            "SELECT n.nspname, p.proname || '(' || coalesce((SELECT string_agg(pg_catalog.format_type(a.t, NULL), ', ' "
            "ORDER BY a.i) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, i)), '') || ')' "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace")}
    keep = {o.dump_id for o in chosen}
    for obj in objects:
        missing = ((obj.kind in ("TYPE", "DOMAIN") and (obj.schema, obj.name) not in types)
                   or (obj.kind == "SCHEMA" and obj.name not in schemas)
                   or (obj.kind in _ROUTINES and (obj.schema, obj.name) not in routines))
        if missing:
            keep.add(obj.dump_id)
    return [o for o in objects if o.dump_id in keep]


#: archive entry kinds of pg_proc rows (their TOC name is ``name(argument types)``)
_ROUTINES = ("FUNCTION", "PROCEDURE", "AGGREGATE")


def _replayed_over_live(path: Path, tools: PgTools, info: BackupInfo | None, dsn: str) -> tuple[list[ArchiveObject], list[ArchiveObject]]:
    """(every archive entry, the entries a restore over ``dsn`` replays) of a scoped backup
    (([], []) for a full one: pg_restore replays it all)."""
    if info is None or not info.scoped:
        return [], []
    with connection(dsn) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")]
        roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles")]
    objects = archive_objects(list_archive(path, tools), schemas, roles)
    chosen = _with_missing_dependencies(objects, restored_objects(objects, info, over_live=True), dsn)
    return objects, _with_views_the_change_replaced(objects, chosen, info, dsn)


def _with_views_the_change_replaced(objects: list[ArchiveObject], chosen: list[ArchiveObject], info: BackupInfo,
                                    dsn: str) -> list[ArchiveObject]:
    """``chosen`` plus the archive's own definition (with its comment and grants) of each view the
    change re-created (``CREATE OR REPLACE VIEW``) that now reads a scoped table: the clearing
    drops it, and it existed before the change, so the backup's version comes back."""
    from migration_guard.tasks.backup.scoped import comment_target, views_on_tables

    named = {(s, v) for s, v in (info.scope or {}).get("created_views", [])}
    if not named:
        return chosen
    with connection(dsn) as conn:
        replaced = named & views_on_tables(conn, info.scope_tables)
    keep = {o.dump_id for o in chosen}
    for obj in objects:
        view = obj.kind in ("VIEW", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA") and (obj.schema, obj.name) in replaced
        if view or (obj.kind in ("COMMENT", "ACL") and comment_target(obj, replaced, set(), set())):
            keep.add(obj.dump_id)
    return [o for o in objects if o.dump_id in keep]


def _use_list(path: Path, objects: list[ArchiveObject], chosen: list[ArchiveObject]) -> Path | None:
    """A private --use-list file when only some entries are replayed (None: all of them)."""
    if len(chosen) == len(objects):
        return None
    handle, name = tempfile.mkstemp(prefix=f"mg-{path.stem[:40]}-", suffix=".uselist")
    os.close(handle)
    return write_use_list(objects, {o.dump_id for o in chosen}, Path(name))


def plan_restore(path: Path, target_dsn: str) -> RestorePlan:
    """What restoring ``path`` over ``target_dsn``'s database would replace (reads, changes nothing)."""
    path = _existing(path)
    tools = _tools_for_server(target_dsn)
    info = read_metadata(path)
    everything, replayed = _replayed_over_live(path, tools, info, target_dsn)
    objects = replayed if everything else archive_objects(list_archive(path, tools))
    kinds: dict[str, int] = {}
    for obj in objects:
        kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
    in_backup = [(o.schema, o.name) for o in objects if o.kind == "TABLE"]
    with connection(target_dsn, options="-c lock_timeout=30000") as conn:
        existing = user_tables(conn)
        counts = row_counts(conn, [t for t in in_backup if t in set(existing)])
    backup_set = set(in_backup)
    return RestorePlan(
        database=database_name(target_dsn),
        target=describe_target(target_dsn),
        backup=path.name,
        replaced_tables=counts,
        created_tables=[f"{s}.{n}" for s, n in in_backup if f"{s}.{n}" not in counts],
        objects=kinds,
        untouched_tables=[f"{s}.{n}" for s, n in existing if (s, n) not in backup_set],
        scoped=bool(info and info.scoped),
        dropped_tables=[f"{s}.{t}" for s, t in _created_since(path, target_dsn)],
        clearing=_clearing(path, info, target_dsn),
        **_made_since_lines(info, replayed, target_dsn),
    )


def default_restore_name(path: Path) -> str:
    """``<database>_restored_<UTC timestamp>`` (the source database from metadata, else the file)."""
    info = read_metadata(path)
    base = info.database if info else path.stem.split("-")[0]
    return f"{base}_restored_{datetime.now(timezone.utc):%Y%m%d%H%M%S}"[:63]


def restore_backup(
    path: Path,
    target_dsn: str,
    *,
    into_new_database: str | None = None,
    replace_existing: bool = False,
    jobs: int | None = None,
) -> RestoreResult:
    """Restore a backup.

    Args:
        path: the dump (file or directory).
        target_dsn: a database on the target server. Without ``replace_existing`` it is only used to
            reach the server; the backup goes into a NEW database.
        into_new_database: name of the new database (default ``<db>_restored_<timestamp>``); it must
            not exist. It is dropped again if the restore fails.
        replace_existing: restore over ``target_dsn``'s own database: objects in the backup are
            dropped and recreated (``--clean --if-exists``) in a single transaction, so a failure
            changes nothing. Callers must confirm first (see :func:`plan_restore`).
        jobs: parallel restore jobs for a new database (default: one per core).

    Raises:
        BackupNotFoundError, BackupError (restore failed; message from pg_restore), DatabaseError.
    """
    path = _existing(path)
    tools = _tools_for_server(target_dsn)
    started = time.monotonic()
    info = read_metadata(path)
    if replace_existing:
        objects, chosen = _replayed_over_live(path, tools, info, target_dsn)
    else:
        objects = archive_objects(list_archive(path, tools)) if info is not None and info.scoped else []
        chosen = restored_objects(objects, info, over_live=False)
    use_list = _use_list(path, objects, chosen) if objects else None
    selection = [f"--use-list={use_list}"] if use_list else []
    try:
        return _restore(path, target_dsn, tools, started, selection, into_new_database, replace_existing, jobs, chosen)
    finally:
        if use_list is not None:
            remove_path(use_list)


def _restore(path: Path, target_dsn: str, tools: PgTools, started: float, selection: list[str],
             into_new_database: str | None, replace_existing: bool, jobs: int | None,
             replayed: list[ArchiveObject]) -> RestoreResult:
    since = None
    if replace_existing:
        if into_new_database:
            raise BackupError("choose either a new database or replacing the existing one, not both")
        database = database_name(target_dsn)
        client = client_connection(target_dsn)
        argv = [str(tools.pg_restore), "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
                *selection, f"--dbname={client.conninfo}", str(path)]
        info = read_metadata(path)
        try:
            if info is not None and info.scoped:
                run, since = _restore_scope_over_live(path, tools, client, selection, info, target_dsn, replayed)
            else:
                run = run_tool(argv, client)
        except interrupts.Interrupted:
            interrupts.note_undone(f"its single transaction on {database} rolled back")
            raise
        if run.returncode != 0:
            raise BackupError(f"restoring {path.name} over {database} failed and was rolled back: {run.first_error}",
                              "nothing was changed; fix the cause (see the PostgreSQL log) and re-run")
        dsn = target_dsn
    else:
        database = into_new_database or default_restore_name(path)
        if database_exists(target_dsn, database):
            raise BackupError(f"database {database} already exists on {describe_target(target_dsn)}",
                              "choose another name with --into NAME, or drop it first")
        client = client_connection(target_dsn, dbname=database)
        argv = [str(tools.pg_restore), "--exit-on-error", f"--jobs={jobs or os.cpu_count() or 1}",
                *selection, f"--dbname={client.conninfo}", str(path)]
        try:
            create_database(target_dsn, database)
            run = run_tool(argv, client)
        except interrupts.Interrupted:  # the name did not exist before: whatever is there is ours
            drop_database(target_dsn, database)
            interrupts.note_undone(f"dropped the half-restored new database {database}")
            raise
        if run.returncode != 0:
            drop_database(target_dsn, database)
            raise BackupError(f"restoring {path.name} into new database {database} failed: {run.first_error}",
                              "the new database was dropped again; check roles and extensions on the target server")
        dsn = dsn_for_database(target_dsn, database)
    with connection(dsn) as conn:
        tables = len(user_tables(conn))
    return RestoreResult(database, describe_target(dsn), replace_existing, round(time.monotonic() - started, 3), tables,
                         *((since.kept, since.dropped) if since is not None else ()))


def _clearing(path: Path, info: BackupInfo | None, dsn: str) -> list[str]:
    """The statements a scoped restore over ``dsn`` runs first ([] for a full backup)."""
    if info is None or not info.scoped:
        return []
    from migration_guard.tasks.backup.scoped import clearing_statements

    created = _created_since(path, dsn)
    with connection(dsn) as conn:
        return clearing_statements(conn, info.scope_tables, created)


def _made_since_lines(info: BackupInfo | None, replayed: list[ArchiveObject], dsn: str) -> dict[str, list[str]]:
    """The plan's ``kept_since`` / ``dropped_since`` lines ({} for a full backup)."""
    if info is None or not info.scoped:
        return {}
    from migration_guard.tasks.backup.scoped import objects_made_since

    with connection(dsn) as conn:
        since = objects_made_since(conn, info.scope or {}, replayed, _created_tables(info, conn))
    return {"kept_since": since.kept, "dropped_since": since.dropped}


def _created_tables(info: BackupInfo, conn) -> list[tuple[str, str]]:
    """Tables the change created that exist now."""
    wanted = [(s, t) for s, t in (info.scope or {}).get("created_tables", [])]
    if not wanted:
        return []
    present = set(user_tables(conn))
    return [t for t in wanted if t in present]


def _created_since(path: Path, dsn: str) -> list[tuple[str, str]]:
    """Tables the change a scoped backup was taken for created, that exist now (the restore drops them)."""
    info = read_metadata(path)
    if info is None or not info.scoped:
        return []
    with connection(dsn) as conn:
        return _created_tables(info, conn)


def _restore_scope_over_live(path: Path, tools: PgTools, client: ClientConnection, selection: list[str],
                             info: BackupInfo, dsn: str, replayed: list[ArchiveObject]) -> tuple[Any, Any]:
    """Replay a scoped backup over the live database in ONE transaction: first clear the way
    (``scoped.clearing_statements``: the tables the change created, the foreign keys from and to
    scoped tables, the views on them — objects made after the backup would block the drops),
    then the scope's SQL script (pg_restore writes it), then re-create the views and foreign keys
    made after the backup that the restore keeps (``scoped.objects_made_since``, definitions read
    from the catalog before anything is dropped). psql runs all three with
    ``--single-transaction`` and ON_ERROR_STOP, so a failure rolls everything back."""
    from migration_guard.tasks.backup.scoped import clearing_statements, objects_made_since

    psql = tools.pg_restore.with_name("psql")
    if not psql.exists():
        raise BackupError(f"restoring a scoped backup over the live database needs psql beside {tools.pg_restore}",
                          "install the PostgreSQL client package that provides pg_restore (it ships psql too)")
    folder = Path(tempfile.mkdtemp(prefix="mg-restore-"))
    try:
        script, drops, recreate = folder / "restore.sql", folder / "drop-created.sql", folder / "keep-made-since.sql"
        offline = ClientConnection("", dict(os.environ), ())
        written = run_tool([str(tools.pg_restore), "--clean", "--if-exists", *selection, f"--file={script}", str(path)],
                           offline)
        if written.returncode != 0:
            return written, None
        with connection(dsn) as conn:
            created = _created_tables(info, conn)
            since = objects_made_since(conn, info.scope or {}, replayed, created)
            statements = clearing_statements(conn, info.scope_tables, created)
        drops.write_text("\n".join(statements) + "\n")
        recreate.write_text("".join(f"{statement}\n" for statement in since.recreate))
        for note in since.dropped:
            _log.info("restore of %s: not kept: %s", path.name, note)
        argv = [str(psql), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                f"--dbname={client.conninfo}", f"--file={drops}", f"--file={script}", f"--file={recreate}"]
        run = run_tool(argv, client)
        if run.returncode == 0:
            objects = [tuple(o) for o in (info.scope or {}).get("created_objects", [])]
            if objects:
                from migration_guard.tasks.backup.scoped import drop_created_objects

                with connection(dsn) as conn:
                    for note in drop_created_objects(conn, objects):  # type: ignore[arg-type]
                        _log.warning("restore of %s: %s", path.name, note)
        # psql writes "ERROR:" / "DETAIL:"; first_error looks for pg_restore's lower-case words
        return dataclasses.replace(run, stderr=run.stderr.replace("ERROR:", "error:").replace("DETAIL:", "detail:")), since
    finally:
        remove_path(folder)


def _existing(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise BackupNotFoundError(f"backup {path} does not exist", "list backups with: migration-guard backup list")
    return path
