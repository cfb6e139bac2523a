"""The CI trigger: start a deployment through the Prefect API, follow it to the end.

``trigger_deployment`` creates a flow run of a deployment (``flow/deployment``, or a bare name
meaning ``name/name``), reports each state change and each new log line through callbacks, and
returns the final state, the run's URL and its markdown artifacts. Exit codes follow the CLI
convention: 0 Completed; 1 Failed / Crashed / Cancelled / timed out; 2 the API or the deployment
cannot be reached or found.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from migration_guard.tasks.errors import ConfigError, MigrationGuardError

EXIT_COMPLETED, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 2
_FAILED_TYPES = {"FAILED", "CRASHED", "CANCELLED"}


class TriggerUnreachable(MigrationGuardError):
    """The Prefect API cannot be reached, or the deployment does not exist (exit code 2)."""


@dataclass
class TriggerResult:
    """How a triggered run ended."""

    deployment: str
    flow_run_id: str
    flow_run_name: str
    url: str | None
    state_type: str | None = None
    state_name: str | None = None
    state_message: str | None = None
    timed_out: bool = False
    elapsed_s: float = 0.0
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.timed_out or self.state_type != "COMPLETED":
            return EXIT_FAILED
        return EXIT_COMPLETED

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment, "flow_run_id": self.flow_run_id, "flow_run_name": self.flow_run_name,
            "url": self.url, "state": self.state_name, "state_type": self.state_type,
            "message": self.state_message, "timed_out": self.timed_out, "elapsed_s": round(self.elapsed_s, 2),
            "exit_code": self.exit_code, "artifacts": self.artifacts,
        }


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``k=v`` pairs into flow parameters; a value that is valid JSON (``true``, ``3``, ``["a"]``)
    is used as such, anything else is a string.

    Raises:
        ConfigError: an item without ``=`` or with an empty key.
    """
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE, e.g. --param dry_run=true")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def full_deployment_name(name: str) -> str:
    """``flow/deployment``; a bare ``safe-migrate`` means ``safe-migrate/safe-migrate``."""
    return name if "/" in name else f"{name}/{name}"


def trigger_deployment(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    timeout_s: float | None = None,
    poll_interval_s: float = 1.0,
    on_state: Callable[[str, str | None], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    on_started: Callable[[str, str | None], None] | None = None,
) -> TriggerResult:
    """Start ``name`` with ``params`` and follow it until a final state or ``timeout_s``.

    Args:
        name: ``flow/deployment`` (or a bare name, see :func:`full_deployment_name`).
        params: flow parameters (merged over the deployment's defaults by Prefect).
        timeout_s: stop waiting after this long (the run itself continues); None = wait forever.
        on_state: called with (state name, message) on every state change.
        on_log: called with each new log line of the run.
        on_started: called with (flow run id, URL) once the run exists.

    Raises:
        TriggerUnreachable: no PREFECT_API_URL, API unreachable, or deployment not found.
    """
    return asyncio.run(_trigger(name, params or {}, timeout_s, poll_interval_s, on_state, on_log, on_started))


async def _trigger(name, params, timeout_s, poll_interval_s, on_state, on_log, on_started) -> TriggerResult:
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise TriggerUnreachable("PREFECT_API_URL is not set: the trigger starts a deployment on a Prefect server",
                                 "export PREFECT_API_URL=http://HOST:4200/api (the server running the deployments)")
    full_name = full_deployment_name(name)
    from migration_guard.flows.prefect_api import PrefectApiUnreachable, require_prefect_api

    try:  # bounded probe first: the client's own retries wait minutes on a hung API
        require_prefect_api()
    except PrefectApiUnreachable as exc:
        raise TriggerUnreachable(exc.message.replace("; the flow was not started", "; nothing was started"),
                                 "check PREFECT_API_URL and that `prefect server start` (or Prefect Cloud) is up") from None
    async with get_client() as client:
        try:
            deployment = await client.read_deployment_by_name(full_name)
        except ObjectNotFound:
            if missing_api_suffix(api_url):
                raise _wrong_api_url(api_url) from None
            raise TriggerUnreachable(
                f"deployment {full_name} not found on {api_url}",
                "list them with: prefect deployment ls   (register with: migration-guard deploy)",
            ) from None
        except (httpx.HTTPError, OSError, ValueError) as exc:
            if missing_api_suffix(api_url):
                raise _wrong_api_url(api_url) from None
            raise TriggerUnreachable(f"cannot reach the Prefect API at {api_url}: {type(exc).__name__}: {exc}",
                                     "check PREFECT_API_URL and that `prefect server start` (or Prefect Cloud) is up") from None
        try:
            flow_run = await client.create_flow_run_from_deployment(deployment.id, parameters=params)
        except httpx.HTTPStatusError as exc:
            detail = exc.response.text[:300] if exc.response is not None else str(exc)
            raise ConfigError(f"Prefect refused to start {full_name}: {detail}",
                              "check the --param names and values against the flow's parameters") from None
        url = _run_url(flow_run, api_url)
        result = TriggerResult(full_name, str(flow_run.id), flow_run.name, url)
        if on_started:
            on_started(str(flow_run.id), url)
        await _follow(client, flow_run.id, result, timeout_s, poll_interval_s, on_state, on_log)
        result.artifacts = await _artifacts(client, flow_run.id)
    return result


async def _follow(client, flow_run_id: UUID, result: TriggerResult, timeout_s, poll_interval_s, on_state, on_log) -> None:
    import httpx

    started = time.monotonic()
    seen_state: tuple[str, str] | None = None
    seen_logs = SeenLogs()
    while True:
        try:
            flow_run = await client.read_flow_run(flow_run_id)
            await _new_logs(client, flow_run_id, seen_logs, on_log)
        except (httpx.HTTPError, OSError) as exc:
            if on_log:
                on_log(f"(lost the Prefect API for a moment: {type(exc).__name__}; retrying)")
            flow_run = None
        state = flow_run.state if flow_run is not None else None
        if state is not None:
            key = (state.type.value, state.name)
            if key != seen_state:
                seen_state = key
                result.state_type, result.state_name, result.state_message = state.type.value, state.name, state.message
                if state.is_final():
                    await _drain_logs(client, flow_run_id, seen_logs, on_log)
                if on_state:
                    on_state(state.name, state.message)
            if state.is_final():
                break
        result.elapsed_s = time.monotonic() - started
        if timeout_s is not None and result.elapsed_s >= timeout_s:
            result.timed_out = True
            break
        await asyncio.sleep(poll_interval_s)
    result.elapsed_s = time.monotonic() - started


#: the run's last log lines reach the API in batches (every ~2 s) after its final state
LOG_DRAIN_QUIET_S = 2.5
LOG_DRAIN_MAX_S = 8.0


async def _drain_logs(client, flow_run_id: UUID, seen: set[UUID], on_log) -> None:
    """Keep reading logs after the final state until none has arrived for LOG_DRAIN_QUIET_S."""
    started = last_new = time.monotonic()
    while time.monotonic() - last_new < LOG_DRAIN_QUIET_S and time.monotonic() - started < LOG_DRAIN_MAX_S:
        await asyncio.sleep(0.5)
        before = len(seen)
        await _new_logs(client, flow_run_id, seen, on_log)
        if len(seen) > before:
            last_new = time.monotonic()


async def _new_logs(client, flow_run_id: UUID, seen: set[UUID], on_log) -> None:
    """Print log lines of the run and its subflows (e.g. validate) not printed yet, oldest first.

    Log batches arrive out of order, so lines are told apart by id rather than by position."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId, LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    children = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
    run_ids = [flow_run_id, *(child.id for child in children)]
    offset = 0
    while True:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=run_ids)),
            sort=LogSort.TIMESTAMP_ASC, offset=offset, limit=200,
        )
        for log in logs:
            if log.id in seen:
                continue
            seen.add(log.id)
            text = without_traceback(log.message)
            if on_log and not seen.is_echo(text, log.task_run_id):
                on_log(f"{log.timestamp:%H:%M:%S} {_level(log.level)} {text}")
        offset += len(logs)
        if len(logs) < 200:
            return


async def _artifacts(client, flow_run_id: UUID) -> list[dict[str, Any]]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    try:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    except Exception:  # noqa: BLE001 - the run's outcome matters more than its artifacts
        return []
    return [{"key": a.key, "type": a.type, "description": a.description, "data": a.data} for a in artifacts]


def _run_url(flow_run: Any, api_url: str) -> str:
    from migration_guard.flows.prefect_api import flow_run_ui_url, ui_base_url
    from prefect.settings import PREFECT_UI_URL

    return flow_run_ui_url(flow_run.id, PREFECT_UI_URL.value() or ui_base_url(api_url)) or ""


TRACEBACK_HEADER = "Traceback (most recent call last):"


def without_traceback(message: str) -> str:
    """A log message with any Python traceback cut down to its last line (the exception itself):
    CI's stream shows what failed, not Prefect's engine frames (they stay in the run's Logs tab)."""
    if TRACEBACK_HEADER not in message:
        return message
    head, _, trace = message.partition(TRACEBACK_HEADER)
    last = next((line.strip() for line in reversed(trace.splitlines()) if line.strip()), "")
    head = head.rstrip()
    return f"{head} {last}".strip() if last and last not in head else head


class SeenLogs(set):
    """Ids of the log lines already printed, and the task runs whose failure was one of ours.

    Prefect repeats an exception in up to four lines (task failed, task state, flow "encountered
    exception", engine exit); for our own expected failures (``migration_guard.*`` exceptions: a
    failed migration, bad configuration, a HIGH alert) the flow already logged its one ERROR line
    with what to do, so CI's stream leaves the echoes out (they stay in the run's Logs tab).
    Unexpected exceptions (a bug: ``KeyError``, ...) are always printed."""

    def __init__(self) -> None:
        super().__init__()
        self.echoed_task_runs: set[Any] = set()

    def is_echo(self, text: str, task_run_id: Any = None) -> bool:
        """True for Prefect's repetition of one of our expected failures."""
        ours = OUR_EXCEPTIONS in text
        if text.startswith(TASK_FAILED) and ours:
            self.echoed_task_runs.add(task_run_id)
            return True
        if text.startswith(TASK_STATE_FAILED) and task_run_id in self.echoed_task_runs:
            return True
        return text.startswith(FLOW_ECHOES) and ours


OUR_EXCEPTIONS = " migration_guard."
TASK_FAILED = "Task run failed with exception:"
TASK_STATE_FAILED = "Finished in state Failed('Task run encountered an exception"
FLOW_ECHOES = ("Encountered exception during execution:", "Engine execution exited with unexpected exception")


def missing_api_suffix(api_url: str) -> bool:
    """True for a self-hosted API URL without ``/api`` (``http://host:4200``): the UI answers there,
    so every API call looks like "not found". Prefect Cloud's URLs hold ``/api/`` inside."""
    path = api_url.rstrip("/")
    return not path.endswith("/api") and "/api/" not in path


def _wrong_api_url(api_url: str) -> TriggerUnreachable:
    return TriggerUnreachable(
        f"PREFECT_API_URL={api_url} does not end in /api, so nothing there is the Prefect API",
        f"export PREFECT_API_URL={api_url.rstrip('/')}/api",
    )


def _level(level: int) -> str:
    return {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(level, str(level))
