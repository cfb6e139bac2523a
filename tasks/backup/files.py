"""File-level helpers for backups: checksums, sizes, private modes, atomic writes, removal."""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """SHA-256 of a dump: of the file, or for a directory dump, of its sorted
    ``<sha256>  <name>`` manifest (so any changed, missing or extra file changes it)."""
    if path.is_dir():
        manifest = "".join(f"{_file_sha256(p)}  {p.name}\n" for p in sorted(path.iterdir()) if p.is_file())
        return hashlib.sha256(manifest.encode()).hexdigest()
    return _file_sha256(path)


def seal(path: Path, workers: int = 4) -> str:
    """fsync a finished dump and return its :func:`sha256_of`, doing both at once.

    Hashing reads the page cache while fsync waits for the disk, and each file of a directory dump
    is handled by its own worker (hashlib and fsync release the GIL).

    Raises:
        OSError: e.g. ENOSPC reported at fsync time.
    """
    targets = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    with ThreadPoolExecutor(max_workers=max(2, min(workers, 2 * len(targets)))) as pool:
        syncs = [pool.submit(_fsync_file, t) for t in targets]
        digests = [pool.submit(_file_sha256, t) for t in targets]
        for future in syncs:
            future.result()
        hashes = [future.result() for future in digests]
    if path.is_dir():
        fsync_directory(path)
        manifest = "".join(f"{digest}  {target.name}\n" for digest, target in zip(hashes, targets))
        return hashlib.sha256(manifest.encode()).hexdigest()
    return hashes[0]


class BackgroundFlusher:
    """Writes a growing dump back to disk while pg_dump is still producing it, so the final
    :func:`seal` only waits for the last few seconds of data (Linux would otherwise keep hundreds
    of MiB dirty until the end). Errors are ignored here; seal() reports them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending = None

    def poke(self) -> None:
        """Start a flush unless one is still running."""
        if self._pending is None or self._pending.done():
            self._pending = self._pool.submit(self._flush)

    def _flush(self) -> None:
        try:
            targets = list(self.path.iterdir()) if self.path.is_dir() else [self.path]
            for target in targets:
                _fsync_file(target)
        except OSError:
            pass

    def close(self) -> None:
        """Wait for a running flush, then stop the worker."""
        self._pool.shutdown(wait=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: Path) -> None:
    """fsync a directory, so the names (a rename, new files) in it are durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def remove_path(path: Path) -> None:
    """Delete a file or a directory tree; missing is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
