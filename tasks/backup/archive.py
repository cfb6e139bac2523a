"""Reading an archive's table of contents (``pg_restore --list``): its entries, and a list file
that replays only some of them (``pg_restore --use-list``)."""

from __future__ import annotations

import os
import re
from collections.abc import Collection
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
    """One object in an archive's table of contents.

    For the kinds that belong to a table (constraints, triggers, defaults, rules, policies),
    ``name`` is ``<table> <name>`` as pg_restore prints it, and ``table`` / ``member`` are its two
    parts (split at a table the archive holds, so names with spaces split right).
    """

    kind: str  # TABLE, INDEX, SEQUENCE, FK CONSTRAINT, TABLE DATA ...
    schema: str
    name: str
    dump_id: int = 0
    line: str = ""
    table: str = ""
    member: str = ""


#: entry kinds whose name is ``<table> <name>``
TABLE_PREFIXED = frozenset({"CONSTRAINT", "FK CONSTRAINT", "TRIGGER", "DEFAULT", "RULE", "POLICY", "ROW SECURITY"})
_RELATION_KINDS = ("TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE", "SEQUENCE")


def archive_objects(listing: str, schemas: Collection[str] = (), owners: Collection[str] = ()) -> list[ArchiveObject]:
    """Objects named in ``pg_restore --list`` output (comment lines skipped).

    Each entry reads ``<id>; <catalog oid> <oid> <KIND> <schema|-> <name ...> <owner>``, with names
    printed as they are: a schema, table or owner may itself contain spaces, so the text is split
    at known names — the schemas of the archive's SCHEMA entries plus ``schemas`` (e.g. the
    source catalog's), the ``owners`` given (else the owner is the last word), and, for
    ``<table> <name>`` kinds, the longest table of that schema the archive holds.
    """
    parsed = []
    for line in listing.splitlines():
        match = _TOC_ENTRY.match(line.lstrip().rstrip("\r\n"))
        if not match:
            continue
        rest = match["rest"]
        kind = next((k for k in _MULTI_WORD_KINDS if rest.startswith(k + " ")), rest.split(" ", 1)[0])
        text = _strip_owner(rest[len(kind):].lstrip(" "), owners)
        if text:
            parsed.append((kind, text, int(match["id"]), line.strip()))
    known = {"public", *schemas} | {text.removeprefix("- ") for kind, text, _, _ in parsed if kind == "SCHEMA"}
    split = [(kind, *_split_schema(text, known), dump_id, line) for kind, text, dump_id, line in parsed]
    relations: dict[str, set[str]] = {}
    for kind, schema, name, _, _ in split:
        if kind in _RELATION_KINDS:
            relations.setdefault(schema, set()).add(name)
    objects = []
    for kind, schema, name, dump_id, line in split:
        table = member = ""
        if kind in TABLE_PREFIXED:
            candidates = [t for t in relations.get(schema, ()) if name.startswith(t + " ")]
            table = max(candidates, key=len) if candidates else name.partition(" ")[0]
            member = name[len(table) + 1:]
        objects.append(ArchiveObject(kind, schema, name, dump_id, line, table, member))
    return objects


def _strip_owner(text: str, owners: Collection[str]) -> str:
    """``text`` without its trailing owner: none when it ends in a space (an extension's entries),
    else the longest known owner it ends with, else the last word."""
    if text.endswith(" "):
        return text[:-1]
    known = [o for o in owners if text.endswith(" " + o)]
    if known:
        return text[:-len(max(known, key=len)) - 1]
    head, _, _ = text.rpartition(" ")
    return head


def _split_schema(text: str, schemas: set[str]) -> tuple[str, str]:
    """(schema, name) of ``<schema|-> <name>``: the longest known schema the text starts with."""
    if text.startswith("- "):
        return "-", text[2:]
    known = [s for s in schemas if text.startswith(s + " ")]
    if known:
        schema = max(known, key=len)
        return schema, text[len(schema) + 1:]
    schema, _, name = text.partition(" ")
    return schema, name


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
