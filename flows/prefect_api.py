"""What flows ask of the Prefect runtime: the UI link of the running flow, and a one-line failure
when a flow is started from the CLI (`--flow`) and the Prefect API in PREFECT_API_URL cannot be
reached — instead of Prefect's RuntimeError traceback."""

from __future__ import annotations

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


def flow_run_url() -> str | None:
    """The Prefect UI link of the running flow run; None outside a run or when the UI URL is unknown
    (a missing link only loses the link)."""
    try:
        from prefect.runtime import flow_run

        return flow_run.ui_url
    except Exception:  # noqa: BLE001 - the URL is a convenience
        return None
