"""Backup metadata: :class:`BackupInfo`, the JSON file written beside each dump, and listing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from migration_guard.tasks.backup.files import write_private_text

METADATA_KIND = "migration-guard-backup"
METADATA_VERSION = 1


@dataclass
class BackupInfo:
    """One backup: where it is, what it holds, how it was made, and whether it was verified.

    Attributes:
        path: the dump (a file for ``custom`` format, a folder for ``directory``).
        database: name of the database dumped.
        created_at: when the dump started (UTC).
        size_bytes: bytes on disk (all files of a directory dump).
        sha256: of the file, or of a directory dump's file manifest (see files.sha256_of).
        reason: why it was taken (``pre-migrate``, ``manual``, ``validate`` ...).
        migration_head: last applied migration at the time, when known.
        verified: True once ``verify_backup`` passed; verify_level says how deep.
        format: ``custom`` or ``directory``.
        duration_s: wall time of pg_dump.
        server_version / tool_version: PostgreSQL server and pg_dump versions.
        target: host:port/dbname of the source (never a password).
        system_identifier / database_oid: which server and database it is (a backup of another server
            or database reached at the same address never matches).
        scope: None for a full backup (every table's data); for a scoped one, what it covers:
            ``tables`` ([schema, table] whose data it holds; every table's definition is always
            there), ``reasons``, ``policy`` and the archive entries a restore replays
            (``restore_entries``, ``skip_in_new_database``) — see tasks/backup/scoped.py.
        restore_point: the WAL restore point created beside the dump (name, lsn, created_at), when
            the server archives WAL.
        warnings: what the backup could not do (e.g. WAL archiving configured but failing).
    """

    path: Path
    database: str
    created_at: datetime
    size_bytes: int
    sha256: str
    reason: str
    migration_head: str | None = None
    verified: bool = False
    format: str = "custom"
    duration_s: float = 0.0
    server_version: str = ""
    tool_version: str = ""
    target: str = ""
    system_identifier: str | None = None
    database_oid: int | None = None
    jobs: int = 1
    compression: int | None = None
    data_bytes_estimate: int = 0
    verified_at: datetime | None = None
    verify_level: str | None = None
    table_rows: dict[str, int] | None = field(default=None)
    scope: dict[str, Any] | None = None
    restore_point: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def scoped(self) -> bool:
        """True when the backup holds the data of some tables only (see ``scope``)."""
        return bool(self.scope) and self.scope.get("mode") == "scoped"  # type: ignore[union-attr]

    @property
    def scope_tables(self) -> list[tuple[str, str]]:
        """(schema, table) whose data a scoped backup holds ([] for a full backup)."""
        return [(s, t) for s, t in (self.scope or {}).get("tables", [])] if self.scoped else []

    def covers(self) -> str:
        """What the backup holds, in a few words (``backup list``)."""
        if not self.scoped:
            return "full"
        tables = [f"{s}.{t}" for s, t in self.scope_tables]
        shown = ", ".join(tables[:3]) + (f" +{len(tables) - 3}" if len(tables) > 3 else "")
        return f"schema + {len(tables)} table(s): {shown}" if tables else "schema only"

    @property
    def metadata_path(self) -> Path:
        return metadata_path_for(self.path)

    @property
    def mib_per_s(self) -> float:
        """Source data estimate dumped per second."""
        return self.data_bytes_estimate / (1 << 20) / self.duration_s if self.duration_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the metadata file's content)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["created_at"] = self.created_at.isoformat()
        data["verified_at"] = self.verified_at.isoformat() if self.verified_at else None
        return {"kind": METADATA_KIND, "version": METADATA_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: Path | None = None) -> BackupInfo:
        """Inverse of :meth:`to_dict`; a relative ``path`` is resolved against ``base_dir``."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        path = Path(values["path"])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        values["path"] = path
        values["created_at"] = _parse_time(values["created_at"])
        values["verified_at"] = _parse_time(values.get("verified_at"))
        return cls(**values)


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def metadata_path_for(dump_path: Path) -> Path:
    """``<dir>/<name>.json`` beside ``<dir>/<name>.dump`` or ``<dir>/<name>.dumpdir``."""
    return dump_path.with_name(dump_path.stem + ".json")


def write_metadata(info: BackupInfo) -> Path:
    """Write (atomically, mode 0600) the metadata file beside the dump; the stored path is the
    dump's file name, so a backup folder can be moved as a whole."""
    data = info.to_dict()
    data["path"] = info.path.name
    target = info.metadata_path
    write_private_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n")
    return target


def read_metadata(dump_path: Path) -> BackupInfo | None:
    """The metadata of a dump, or None when there is no (readable) metadata file."""
    meta = metadata_path_for(dump_path)
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") != METADATA_KIND:
        return None
    try:
        return BackupInfo.from_dict(data, base_dir=dump_path.parent)
    except (KeyError, TypeError, ValueError):
        return None


def list_backups(backup_dir: Path) -> list[BackupInfo]:
    """Every backup in ``backup_dir`` that has a metadata file and whose dump exists, newest first."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    infos: list[BackupInfo] = []
    for meta in backup_dir.glob("*.json"):
        if meta.name.startswith("."):
            continue
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("kind") != METADATA_KIND:
            continue
        try:
            info = BackupInfo.from_dict(data, base_dir=backup_dir)
        except (KeyError, TypeError, ValueError):
            continue
        if info.path.exists():
            infos.append(info)
    infos.sort(key=lambda i: i.created_at, reverse=True)
    return infos


def restore_point_line(point: dict[str, Any]) -> str:
    """One text line for a recorded WAL restore point: its name, LSN and time, and the
    postgresql.conf setting that recovers to it (pasteable as printed)."""
    name = str(point.get("name", ""))
    return (f"WAL restore point at LSN {point.get('lsn')}, {point.get('created_at')}: point-in-time recovery "
            f"target recovery_target_name = '{name.replace(chr(39), chr(39) * 2)}'")

