"""Reading an archive's table of contents (``pg_restore --list``): its entries, and a list file
that replays only some of them (``pg_restore --use-list``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from migration_guard.tasks.backup.client import ClientConnection, run_tool
from migration_guard.tasks.backup.errors import BackupCorruptError
from migration_guard.tasks.backup.files import write_private_text
from migration_guard.tasks.backup.tools import PgTools

_TOC_ENTRY = re.compile(r"^(?P<id>\d+);\s+\d+\s+\d+\s+(?P<rest>.+)$")
#: multi-word entry kinds of ``pg_restore --list`` (longest first); other kinds are one word
_MULTI_WORD_KINDS = ("MATERIALIZED VIEW DATA", "SEQUENCE OWNED BY", "MATERIALIZED VIEW", "FK CONSTRAINT", "TABLE DATA",
                     "SEQUENCE SET", "DEFAULT ACL", "ROW SECURITY", "TABLE ATTACH", "INDEX ATTACH", "EVENT TRIGGER",
                     "FOREIGN TABLE", "LARGE OBJECT", "BLOB DATA", "BLOBS", "PROCEDURAL LANGUAGE", "TEXT SEARCH CONFIGURATION",
                     "TEXT SEARCH DICTIONARY", "FOREIGN DATA WRAPPER", "SERVER", "USER MAPPING")


@dataclass(frozen=True)
class ArchiveObject:
    """One object in an archive's table of contents."""

    kind: str  # TABLE, INDEX, SEQUENCE, FK CONSTRAINT, TABLE DATA ...
    schema: str
    name: str
    dump_id: int = 0
    line: str = ""


def archive_objects(listing: str) -> list[ArchiveObject]:
    """Objects named in ``pg_restore --list`` output (plain parsing; comment lines skipped).

    Each entry reads ``<id>; <catalog oid> <oid> <KIND> <schema|-> <name ...> <owner>``; for
    constraints, triggers and defaults the name is ``<table> <name>``.
    """
    objects = []
    for line in listing.splitlines():
        match = _TOC_ENTRY.match(line.strip())
        if not match:
            continue
        rest = match["rest"]
        kind = next((k for k in _MULTI_WORD_KINDS if rest.startswith(k + " ")), rest.split(" ", 1)[0])
        tokens = rest[len(kind):].split()
        if len(tokens) < 2:
            continue
        objects.append(ArchiveObject(kind, tokens[0], " ".join(tokens[1:-1]) or tokens[1], int(match["id"]), line.strip()))
    return objects


def list_archive(path: Path, tools: PgTools) -> str:
    """``pg_restore --list`` of a dump.

    Raises:
        BackupCorruptError: the archive cannot be read.
    """
    run = run_tool([str(tools.pg_restore), "--list", str(path)], ClientConnection("", dict(os.environ), ()), capture_stdout=True)
    if run.returncode != 0:
        raise BackupCorruptError(f"backup {path.name} is not a readable archive: {run.first_error}",
                                 "verify it with: migration-guard backup verify PATH")
    return run.stdout


def write_use_list(objects: list[ArchiveObject], keep: set[int], target: Path) -> Path:
    """Write a ``--use-list`` file (mode 0600) naming the entries of ``objects`` whose id is in ``keep``."""
    write_private_text(target, "".join(f"{o.line}\n" for o in objects if o.dump_id in keep))
    return target
