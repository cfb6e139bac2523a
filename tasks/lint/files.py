"""Reading migration files for the linter: UTF-8 text or an ``invalid-input`` finding, never a traceback."""

from __future__ import annotations

from pathlib import Path

from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.lint.findings import Finding
from migration_guard.tasks.lint.registry import get_rule


def collect_sql_files(paths: list[Path]) -> list[Path]:
    """Files to lint: each file as given, each folder's ``*.sql`` files (recursively, sorted, so
    migrations come in apply order; ``*.down.sql`` skipped).

    Raises:
        ConfigError: a path does not exist, or a folder holds no .sql file.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.sql") if p.is_file() and not p.name.endswith(".down.sql"))
            if not found:
                raise ConfigError(f"no .sql files under {str(path)!r}", "pass migration files or a migrations folder")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{str(path)!r} does not exist", "pass migration files or a migrations folder")
    return files


def read_sql(path: Path) -> tuple[str | None, Finding | None]:
    """(text, None) for a readable UTF-8 file; (None, finding) for unreadable or undecodable files."""
    rule = get_rule("invalid-input")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, Finding(rule.code, "error", f"cannot read the file: {exc.strerror or exc}", str(path),
                             why=rule.problem, fix=rule.fix)
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line} column {column}"
        return None, Finding(rule.code, "error", message, str(path), line, column, line, why=rule.problem, fix=rule.fix)
