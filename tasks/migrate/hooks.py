"""Post-migrate hooks and the application start-up check.

Hooks are argv lists run without a shell (never ``shell=True``), each with a timeout and its output
captured. The start-up check is either such a command (exit 0 = the app starts on the new schema)
or an HTTP URL polled until it answers 2xx, within a timeout.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from migration_guard.tasks.errors import ConfigError

_TAIL_CHARS = 4000


@dataclass(frozen=True)
class HookResult:
    """The outcome of one hook or check.

    Attributes:
        name: what ran (the command line, or the URL).
        ok: exit 0 / 2xx within the timeout.
        returncode: the exit code (None when it timed out or could not start); for URLs the HTTP status.
        duration_s: wall time.
        stdout / stderr: the last few thousand characters of each.
        error: why it failed, in one line.
    """

    name: str
    ok: bool
    returncode: int | None
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_commands(value: str | None, *, name: str = "POST_MIGRATE_HOOKS") -> list[list[str]]:
    """Commands from configuration: a JSON list of argv lists (or of strings), or ``;``-separated
    command lines split like a POSIX shell would (quotes respected; no shell runs them).

    Raises:
        ConfigError: malformed JSON or quoting, or an empty command.
    """
    if value is None or not value.strip():
        return []
    text = value.strip()
    if text.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}: not valid JSON ({exc.msg} at character {exc.pos})",
                              'use e.g. [["npx", "prisma", "generate"], ["./warm-cache.sh"]]') from None
        if not isinstance(data, list):
            raise ConfigError(f"{name}: expected a JSON list of commands")
        commands = [_argv_from_json(item, name) for item in data]
    else:
        try:
            commands = [shlex.split(part) for part in _split_unquoted(text)]
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc} in {text!r}", "close the quote, or use the JSON list form") from None
        commands = [c for c in commands if c]
    for command in commands:
        if not command:
            raise ConfigError(f"{name}: an empty command", "remove the empty entry")
    return commands


def _argv_from_json(item: Any, name: str) -> list[str]:
    if isinstance(item, str):
        return shlex.split(item)
    if isinstance(item, list) and all(isinstance(a, str) for a in item):
        return list(item)
    raise ConfigError(f"{name}: each command must be a list of strings or a string, got {item!r}")


def _split_unquoted(text: str) -> list[str]:
    """Split at ``;`` outside quotes."""
    parts, current, quote = [], [], ""
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def run_command(argv: list[str], *, timeout_s: float, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> HookResult:
    """Run ``argv`` (no shell) with a timeout; capture the tail of stdout and stderr."""
    name = shlex.join(argv)
    started = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired as exc:
        return HookResult(name, False, None, time.monotonic() - started, _tail(exc.stdout), _tail(exc.stderr),
                          f"timed out after {timeout_s:g}s")
    except FileNotFoundError:
        return HookResult(name, False, None, time.monotonic() - started, error=f"command not found: {argv[0]}")
    except OSError as exc:
        return HookResult(name, False, None, time.monotonic() - started, error=f"cannot run {argv[0]}: {exc.strerror}")
    ok = done.returncode == 0
    return HookResult(name, ok, done.returncode, time.monotonic() - started, _tail(done.stdout), _tail(done.stderr),
                      "" if ok else f"exited with code {done.returncode}")


def run_hooks(commands: list[list[str]], *, timeout_s: float, cwd: Path | None = None) -> list[HookResult]:
    """Run each command in order; stop at the first failure (later hooks may depend on it)."""
    results: list[HookResult] = []
    for argv in commands:
        result = run_command(argv, timeout_s=timeout_s, cwd=cwd)
        results.append(result)
        if not result.ok:
            break
    return results


def check_url(url: str, *, timeout_s: float, interval_s: float = 0.5) -> HookResult:
    """Poll ``url`` with GET until it answers 2xx, or give up after ``timeout_s``."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"STARTUP_CHECK_URL: expected an http(s) URL, got {url!r}")
    started = time.monotonic()
    last_error, last_status = "no answer", None
    while True:
        remaining = timeout_s - (time.monotonic() - started)
        if remaining <= 0:
            break
        try:
            with urllib.request.urlopen(url, timeout=max(0.1, min(5.0, remaining))) as response:  # noqa: S310 - http(s) checked above
                body = response.read(_TAIL_CHARS).decode("utf-8", "replace")
                if 200 <= response.status < 300:
                    return HookResult(url, True, response.status, time.monotonic() - started, body)
                last_status, last_error = response.status, f"answered HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_status, last_error = exc.code, f"answered HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last_error = f"no answer ({reason})"
        time.sleep(min(interval_s, max(0.0, timeout_s - (time.monotonic() - started))))
    return HookResult(url, False, last_status, time.monotonic() - started,
                      error=f"{last_error}; gave up after {timeout_s:g}s")


def startup_check(command: str | None, url: str | None, *, timeout_s: float, cwd: Path | None = None) -> HookResult | None:
    """Run the configured start-up check (command first, then URL); None when none is configured."""
    if command and command.strip():
        argv = parse_commands(command, name="STARTUP_CHECK_COMMAND")
        if len(argv) != 1:
            raise ConfigError("STARTUP_CHECK_COMMAND: expected one command", "chain steps in a script instead")
        return run_command(argv[0], timeout_s=timeout_s, cwd=cwd)
    if url and url.strip():
        return check_url(url.strip(), timeout_s=timeout_s)
    return None


def _tail(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[-_TAIL_CHARS:]
