"""SIGINT and SIGTERM as one clean interruption: cancel what runs, undo what is half done, say so.

The command line installs :func:`install` once. The first SIGINT or SIGTERM then

- sends a cancel request for every statement that a thread other than the main one is running
  on a connection opened by ``tasks/db.connect`` (the healthcheck's per-database threads, blocker
  monitors), so no backend of ours keeps working for a process that is going away;
- raises :class:`Interrupted` in the main thread. It is a ``KeyboardInterrupt``: ``except
  Exception`` never swallows it, psycopg cancels the statement the main thread is waiting for
  (``pg_cancel_backend`` on our own backend, via libpq's cancel request) before re-raising it,
  ``subprocess.run`` kills its child, and every ``finally`` / ``except BaseException`` rolls back,
  stops pg_dump, removes partial files and releases the migration lock on the way out.

Later signals are ignored: a second or third Ctrl-C cannot break the cleanup of the first (each
cleanup step has its own bounded wait). An interrupt that lands while a COMMIT is on its way is
resolved by asking the server (``txid_status``, see ``tasks/migrate/execute.py``), so a run never
reports "rolled back" for a transaction that committed.

What the interrupted run leaves behind is collected with :func:`note_committed` (kept: a migration
committed, statements applied one by one) and :func:`note_undone` (what the cleanup did); the
CLI prints :func:`summary` as one ``interrupted: ...`` line and exits with :attr:`Interrupted.exit_code`
(128 + the signal number: 130 for SIGINT, 143 for SIGTERM).

A shell that starts a command in the background (``cmd &`` in a script) starts it with SIGINT
ignored, and Python keeps it ignored: :func:`install` replaces that too, because whoever sends
SIGINT to our process means to stop it.
"""

from __future__ import annotations

import signal
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from psycopg import pq

#: the signals that interrupt a command
SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: seconds to wait for the server to acknowledge a cancel request of another thread's statement
CANCEL_TIMEOUT_S = 2.0


class Interrupted(KeyboardInterrupt):
    """The process received SIGINT or SIGTERM.

    Attributes:
        signum: the signal number; signal_name: ``SIGINT`` / ``SIGTERM``.
        exit_code: 128 + signum (130 / 143), the shell's convention for "ended by this signal".
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.signal_name = signal.Signals(self.signum).name
        super().__init__(self.signal_name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class _State:
    signum: int | None = None
    reported: bool = False
    committed: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = _State()
#: connection -> ident of the thread that opened it (weak: a closed, dropped connection disappears)
_connections: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_connections_lock = threading.Lock()


def install(signals: tuple[int, ...] = SIGNALS) -> None:
    """Make ``signals`` interrupt the process cleanly (call once, from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in signals:
        signal.signal(signum, _handle)


def ignore_further(signals: tuple[int, ...] = SIGNALS) -> None:
    """Ignore ``signals`` from now on: the process is exiting after an interrupt it has reported,
    and a late repeat (the third Ctrl-C) must not kill it mid-exit with another status."""
    if threading.current_thread() is threading.main_thread():
        for signum in signals:
            signal.signal(signum, signal.SIG_IGN)


def reset() -> None:
    """Forget a received signal and the notes (for a process that keeps running, and tests)."""
    global _state
    _state = _State()


def received() -> int | None:
    """The first interrupting signal received, or None."""
    return _state.signum


def _handle(signum: int, frame: Any) -> None:
    if _state.signum is not None:
        return  # already unwinding: a repeated Ctrl-C must not break the cleanup
    _state.signum = signum
    cancel_other_threads()
    raise Interrupted(signum)


def track_connection(conn: Any) -> None:
    """Remember ``conn`` (a psycopg connection) and the thread that opened it, so that an interrupt
    can cancel a statement it runs from another thread."""
    with _connections_lock:
        _connections[conn] = threading.get_ident()


def cancel_other_threads() -> list[int]:
    """Send a cancel request for each statement running on a tracked connection opened by a thread
    other than the current one; returns their backend pids. Idle connections are left alone (the
    server ignores a cancel between statements anyway)."""
    me = threading.get_ident()
    with _connections_lock:
        others = [conn for conn, owner in list(_connections.items()) if owner != me]
    cancelled: list[int] = []
    for conn in others:
        try:
            if conn.closed or conn.pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
                continue
            pid = conn.info.backend_pid
            conn.cancel_safe(timeout=CANCEL_TIMEOUT_S)
            cancelled.append(pid)
        except Exception:  # noqa: BLE001 - best effort: closing the socket on exit ends the backend too
            continue
    return cancelled


def note_committed(text: str) -> None:
    """Record something the interrupted run committed and keeps (it is named in the summary)."""
    with _state.lock:
        if text not in _state.committed:
            _state.committed.append(text)


def note_undone(text: str) -> None:
    """Record what the cleanup did (rolled back, stopped, removed, released)."""
    with _state.lock:
        if text not in _state.undone:
            _state.undone.append(text)


def summary(signum: int | None = None) -> str:
    """The ``interrupted: ...`` line: what stays committed (or that nothing was changed), then the
    signal and what the cleanup did."""
    name = signal.Signals(signum or _state.signum or signal.SIGINT).name
    if _state.committed:
        head = "committed before the interrupt: " + "; ".join(_state.committed) + " — nothing else was changed"
    else:
        head = "nothing was changed"
    tail = f"{name}: " + "; ".join(_state.undone) if _state.undone else name
    return f"interrupted: {head} ({tail})"


def mark_reported() -> bool:
    """True the first time (the caller prints the summary), False afterwards."""
    if _state.reported:
        return False
    _state.reported = True
    return True
