"""File-level helpers for backups: checksums, sizes, private modes, atomic writes, removal, and
the partial dumps a run writes before renaming (who writes them, which ones were abandoned)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
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


#: ``.<final name>.<writer pid>.partial``; older versions wrote ``.<final name>.partial``
_PARTIAL = re.compile(r"^\.(?P<final>.+?)(?:\.(?P<pid>\d+))?\.partial$")


def partial_path(final: Path, pid: int | None = None) -> Path:
    """Where a dump is written before it is complete: a hidden name beside ``final`` that carries
    the writer's pid, so an abandoned one can be told from one being written."""
    return final.with_name(f".{final.name}.{pid or os.getpid()}.partial")


@dataclass(frozen=True)
class PartialDump:
    """A dump still under its temporary name.

    Attributes:
        writer_pid: the process that started it (None for names without one).
        writer_alive: that process, or a pg_dump writing this path, is still running: it is
            being written now. False: the run that wrote it was killed (SIGKILL, a crash, a power
            cut) and the file is debris that only takes disk space.
    """

    path: Path
    size_bytes: int
    modified: datetime
    writer_pid: int | None
    writer_alive: bool


def partial_dumps(backup_dir: Path) -> list[PartialDump]:
    """Every partial dump in ``backup_dir``, oldest first."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    found = []
    writers = _processes_writing(backup_dir)
    for path in backup_dir.glob(".*.partial"):
        match = _PARTIAL.match(path.name)
        if match is None:
            continue
        pid = int(match["pid"]) if match["pid"] else None
        try:
            modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except FileNotFoundError:
            continue  # finished (renamed) or removed meanwhile
        alive = (pid is not None and _pid_alive(pid)) or str(path) in writers
        found.append(PartialDump(path, size_of(path), modified, pid, alive))
    return sorted(found, key=lambda p: p.modified)


def remove_abandoned_partials(backup_dir: Path) -> list[PartialDump]:
    """Delete the partial dumps whose writer is gone (left by a killed run); return them."""
    abandoned = [p for p in partial_dumps(backup_dir) if not p.writer_alive]
    for partial in abandoned:
        remove_path(partial.path)
    return abandoned


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return _not_a_zombie(pid)


def _not_a_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _processes_writing(backup_dir: Path) -> set[str]:
    """Paths that a running process names with ``--file=`` under ``backup_dir`` (a pg_dump whose
    parent was killed keeps writing; Linux /proc only, empty elsewhere)."""
    prefix = f"--file={Path(backup_dir)}/"
    paths = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return paths
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in args:
            text = arg.decode(errors="replace")
            if text.startswith(prefix):
                paths.add(text[len("--file="):])
    return paths
