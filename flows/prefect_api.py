"""What flows ask of the Prefect runtime: the UI link of the running flow, a one-line failure
when a flow is started from the CLI (`--flow`) and the Prefect API in PREFECT_API_URL cannot be
reached — instead of Prefect's RuntimeError traceback — and the Failed state an expected failure
ends a run with (one error line, no traceback in the run's logs)."""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.errors import Category, MigrationGuardError

#: seconds the reachability probe may take (a black-holed address must not hang the CLI)
PROBE_TIMEOUT_S = 5.0


class PrefectApiUnreachable(MigrationGuardError):
    """PREFECT_API_URL is set but nothing answers there."""

    category = Category.CONFIGURATION


def require_prefect_api(timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Probe ``PREFECT_API_URL/health`` when PREFECT_API_URL is set (unset: Prefect starts a
    temporary server itself, nothing to probe).

    Any HTTP answer counts as reachable; only transport failures (refused, timeout, DNS) raise.

    Raises:
        PrefectApiUnreachable: the API did not answer within ``timeout_s``.
    """
    import httpx
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        return
    try:
        httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout_s)
    except httpx.TransportError as exc:
        raise PrefectApiUnreachable(
            f"cannot reach the Prefect API at {api_url} ({type(exc).__name__}); the flow was not started",
            "start the server (`prefect server start`) or fix PREFECT_API_URL — or run the command without --flow "
            "(same steps, no Prefect)",
        ) from None


def ui_base_url(api_url: str | None = None) -> str | None:
    """The Prefect UI's address: PREFECT_UI_URL when configured, else PREFECT_API_URL (or ``api_url``)
    without its ``/api`` suffix — where `prefect server start` serves the UI. None when neither is set."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    configured = PREFECT_UI_URL.value() if api_url is None else None
    base = configured or api_url or PREFECT_API_URL.value()
    if not base:
        return None
    base = base.rstrip("/")
    return base[: -len("/api")] if base.endswith("/api") else base


def flow_run_ui_url(flow_run_id: object, ui_base: str | None = None) -> str | None:
    """The one link form for a flow run, used by alerts, artifacts, automations and `trigger`:
    ``<UI>/runs/flow-run/<id>`` (the UI's own route). None when the UI address is unknown."""
    base = ui_base or ui_base_url()
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}" if base else None


def flow_run_url() -> str | None:
    """The Prefect UI link of the running flow run; None outside a run or when the UI URL is unknown
    (a missing link only loses the link). Built from the worker's PREFECT_UI_URL / PREFECT_API_URL,
    so it works when the server itself does not know its UI address."""
    try:
        from prefect.runtime import flow_run

        run_id = flow_run.id
        return flow_run_ui_url(run_id) if run_id else None
    except Exception:  # noqa: BLE001 - the URL is a convenience
        return None


def expected_failure(error: BaseException, logger: Any) -> Any:
    """The Failed state a flow returns for an expected failure (a HIGH alert, a failed migration,
    bad configuration): one ERROR log line with what to do, and no traceback — raising would make
    Prefect log three (task, flow, engine), which is all CI's `trigger` stream would show.

    Called as a plain function or as a subflow, the flow still raises ``error`` (Prefect raises a
    Failed state's exception), so callers and tests see the same exception as before.
    """
    from prefect.states import Failed

    message = getattr(error, "message", None) or str(error)
    suggestion = getattr(error, "suggestion", None)
    logger.error("%s%s", message, f" — next: {suggestion}" if suggestion else "")
    return Failed(message=message, data=error)
