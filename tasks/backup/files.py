"""File-level helpers for backups: checksums, sizes, private modes, atomic writes, removal."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """SHA-256 of a dump: of the file, or for a directory dump, of its sorted
    ``<sha256>  <name>`` manifest (so any changed, missing or extra file changes it)."""
    if path.is_dir():
        manifest = "".join(f"{_file_sha256(p)}  {p.name}\n" for p in sorted(path.iterdir()) if p.is_file())
        return hashlib.sha256(manifest.encode()).hexdigest()
    return _file_sha256(path)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file in a directory dump (0 when it does not exist)."""
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def make_private(path: Path) -> None:
    """Mode 0600 for files, 0700 for directories (and 0600 for the files inside)."""
    if path.is_dir():
        os.chmod(path, 0o700)
        for child in path.iterdir():
            if child.is_file():
                os.chmod(child, 0o600)
    elif path.exists():
        os.chmod(path, 0o600)


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename), mode 0600."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        remove_path(temp)
        raise


def fsync_path(path: Path) -> None:
    """Flush a dump (file, or every file of a directory dump) to disk."""
    targets = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else [path]
    for target in targets:
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_path(path: Path) -> None:
    """Delete a file or a directory tree; missing is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
